// Reads WARC files with warcio.js (webrecorder) and prints one JSON line
// per record. Usage: node read.mjs <install dir> <file>...
//
// warcio 2.x is an ES module package ("type": "module") that also ships a
// CommonJS build; this script is an ES module and imports the package's ES
// entry by path, because the script is not under the install directory's
// node_modules and ES imports ignore NODE_PATH.
//
// Each file is read twice: once with parseHttp off, where the record's
// content is the whole block (length and SHA-256 of the block), and once
// with parseHttp on, where warcio splits off the HTTP headers and
// readFully() returns the raw payload (not dechunked or decoded: that is
// readFully(true) / contentText()).

import { createReadStream, readFileSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, ...files] = process.argv.slice(2);
const pkgDir = join(dir, "node_modules", "warcio");
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
const exp = pkg.exports?.["."];
const entry = (typeof exp === "string" ? exp : exp?.import ?? exp?.default) ?? pkg.module ?? pkg.main;
const { WARCParser } = await import(pathToFileURL(join(pkgDir, entry)).href);

const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

async function pass(file, parseHttp, fn) {
  const parser = new WARCParser(createReadStream(file), { parseHttp });
  for await (const record of parser) {
    const bytes = await record.readFully(false);
    fn(record, bytes, parser.offset, parser.recordLength);
  }
  return parser;
}

async function main() {
  out({ warcio_version: pkg.version, node_version: process.version });
  for (const file of files) {
    const blocks = [];
    const parser = await pass(file, false, (record, bytes, offset, length) => {
      if (bytes.length !== record.warcContentLength) {
        throw new Error(`${file}: record at offset ${offset}: block of ${bytes.length} bytes, Content-Length ${record.warcContentLength}`);
      }
      const b = { offset, length, block_length: bytes.length, block_sha256: sha256(bytes) };
      if (record.warcType === "warcinfo") b.text = new TextDecoder().decode(bytes);
      blocks.push(b);
    });
    // warcio stops quietly at a gzip member cut short: the records it read
    // must account for the whole file.
    const size = statSync(file).size;
    if (parser.offset !== size) {
      throw new Error(`${file}: warcio read ${blocks.length} records ending at byte ${parser.offset} of ${size}`);
    }
    let i = 0;
    await pass(file, true, (record, bytes) => {
      const h = (name) => record.warcHeader(name) ?? "";
      const b = blocks[i] ?? {};
      out({
        file,
        index: i,
        offset: b.offset,
        length: b.length,
        type: record.warcType ?? "",
        target_uri: record.warcTargetURI ?? "",
        record_id: h("WARC-Record-ID"),
        date: record.warcDate ?? "",
        content_type: record.warcContentType ?? "",
        content_length: record.warcContentLength,
        payload_digest: record.warcPayloadDigest ?? "",
        block_digest: record.warcBlockDigest ?? "",
        truncated: h("WARC-Truncated"),
        profile: h("WARC-Profile"),
        refers_to_target_uri: record.warcRefersToTargetURI ?? "",
        refers_to_date: record.warcRefersToDate ?? "",
        concurrent_to: record.warcConcurrentTo ?? [],
        warcinfo_id: h("WARC-Warcinfo-ID"),
        filename: h("WARC-Filename"),
        http_status: record.httpHeaders ? Number(record.httpHeaders.statusCode) || 0 : 0,
        has_http: !!record.httpHeaders,
        payload_length: bytes.length,
        payload_sha256: sha256(bytes),
        block_length: b.block_length,
        block_sha256: b.block_sha256,
        text: b.text ?? "",
      });
      i++;
    });
    if (i !== blocks.length) {
      throw new Error(`${file}: ${blocks.length} records without HTTP parsing, ${i} with`);
    }
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
