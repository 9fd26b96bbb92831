// Package yamlcheck reports problems in YAML configuration the same way
// for the crawl library's fetch settings (crawl/fetchconfig) and for
// rpc.yaml (internal/config), which embeds them as its fetch section, so
// that all the messages of one file read alike.
//
// A bad value met while decoding is reported by an UnmarshalYAML method
// with [TypeError], naming what the node holds with [Describe]; yaml.v3
// collects such errors with the document's other ones instead of stopping
// at the first, and [Position] reads back where each one is. A setting
// that decodes but breaks a rule is collected in [Problems], with the
// value written as in YAML ("1m", not "1m0s").
//
// [DecodeStrict] decodes refusing unknown keys; [Suggest] names the key a
// misspelt one was meant to be, and [Expected] rewords yaml.v3's "cannot
// unmarshal" messages as what the value should look like.
//
// It is a leaf package (the standard library and yaml.v3 only), internal
// so that it stays out of the crawl library's public API.
package yamlcheck
