// Package fetchconfig is the configuration of the crawl library's fetch
// stack: the settings with their YAML keys, their defaults ([Default]) and
// their rules ([Config.Validate]). crawl.New takes a [Config]; rpc.yaml's
// fetch section decodes straight into one, so the library, rpc.yaml and
// the assistant share one set of settings.
//
// It is a leaf package (the standard library, yaml.v3 and a helper internal
// to this module only) so that a
// program which reads the configuration but never fetches, such as the
// master daemon, does not link the fetcher with its HTML and robots.txt
// parsers.
//
// The values with a syntax of their own, [ByteSize] and [ResolveRule],
// report a bad value as a *yaml.TypeError starting "line N: column C: ",
// which yaml.v3 collects with the document's other errors instead of
// stopping at the first. [Config.Validate] reports every invalid setting
// at once, each a [*FieldError] naming its YAML key, so that a document
// embedding a Config in a section can place each problem.
package fetchconfig
