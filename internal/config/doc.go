// Package config loads and validates rpc.yaml, the single configuration file
// shared by the crawlmaster master and assistant daemons.
//
// The file keeps the layout of the older Python system's rpc.yaml (an "rpc"
// section with one "manager" and a list of "assistant" entries) and adds the
// sections database, dispatch, retry, persist, fetch, log and metrics. The
// annotated reference is rpc.yaml at the repository root: every key with its
// default and an explanation.
//
// # Loading
//
// [Load] reads a file, [Parse] decodes bytes. Both are strict:
//
//   - A key that is not part of the schema is an error naming its full path
//     and line, e.g. `rpc.yaml: unknown key "dispatch.pol_interval" (line 12)`.
//   - A value of the wrong type, an unparsable duration or size, a missing
//     required key and every rule checked by [Config.Validate] is reported
//     with the key path, e.g. `rpc.assistant[1].port: required (line 9)`.
//   - All problems are reported at once: the returned error joins one
//     [*FieldError] per problem (see errors.Join and errors.As).
//   - An empty file, a file holding only comments and a file with several
//     YAML documents are errors.
//
// Keys left out keep their default (see [Default]); a key written with an
// empty value ("timeout:" or "timeout: ~") counts as left out. [Load] then
// lets the environment variable DATABASE_URL override database.url; [Parse]
// never reads the environment.
//
// Anchors, aliases and merge keys ("<<: *base") may be used, for example to
// share settings between assistant entries.
//
// # Value syntax
//
//   - Durations ([Duration]) are Go duration strings: "500ms", "30s", "1h".
//     A bare number is rejected because its unit would be a guess.
//   - Sizes ([ByteSize]) are an integer number of bytes or a string with a
//     unit: "512KiB", "1MiB", "64kB" (kB, MB, GB are powers of 1000; KiB,
//     MiB, GiB powers of 1024).
//   - rpc.assistant[].workers ([Workers]) is the number of worker slots, or,
//     in the old Python form, a list whose length is the number of slots.
//
// The package has no dependency on other crawlmaster packages.
package config
