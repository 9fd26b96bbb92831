// Package config loads and validates rpc.yaml, the configuration file of the
// master and assistant daemons (the reference rpc.yaml at the repository
// root explains every key and default). yaml.v3 decodes it strictly into
// [Default]; as its errors carry only a line, the file is also indexed by
// line and key path, so that every problem, from decoding or from
// [Config.Validate], is reported at once as a [*FieldError] with its key
// path and line:
//
//	rpc.yaml: unknown key "dispatch.pol_interval" (line 10), did you mean "dispatch.poll_interval"?
//
// The fetch section is the crawl library's fetchconfig.Config plus two
// settings of the assistant's.
package config
