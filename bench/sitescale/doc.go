// Command sitescale is the sites run of `make bench-scale`: one site crawl
// big enough to show whether crawlmaster's frontier scales with link
// discovery (issue 10). It stops once at least --min-pages pages have been
// fetched and at least --min-discovered URLs discovered into the frontier
// (defaults 1,000,000 and 10,000,000).
//
//	sitescale --database URL [--bin bin] [--domains 25000] [--site-pages 5000]
//	    [--depth 8] [--min-pages 1000000] [--min-discovered 10000000]
//	    [--out BENCHMARKS-scale.md] [--profile-after 0.4]
//
// What it does, in order:
//
//   - creates a database of its own in the cluster of --database (default
//     $CRAWLMASTER_TEST_DATABASE_URL, as scripts/with-pg.sh sets it) and
//     drops it at the end (--keep-db keeps it);
//   - starts websim with --domains domains, every eligible one a site
//     (about 4 in 5) of exactly --site-pages regular pages and no feature
//     pages (--site-features none): every page links its 8 tree children,
//     3 pages drawn from the site and the home page, in websim's mixed link
//     forms (relative, absolute, session ids, fragments), so each fetched
//     page discovers about 10 new URLs from the first decile to the last
//     and the discovery rate per decile measures the crawler, not the shape
//     of the graph. Flaky, hanging, slow and Crawl-delay hosts are off, as
//     in the CPU-bound workloads of `make bench`;
//   - writes an rpc.yaml (two assistants of --workers slots, mutual TLS as
//     deployed: `master certs` first; the SSRF guard admits loopback and
//     resolves *.test to websim; no politeness delay; /debug/pprof on);
//   - creates the crawl (`master crawl create scale --scope domain
//     --max-depth D --site-budget B`) and imports websim's tranco.csv into
//     it as seeds;
//   - runs the two assistants and the master as processes and samples every
//     --interval: pages fetched (the master's count of final results:
//     done, failed and dead) and URLs discovered (links admitted to the
//     frontier, the seeds not counted), from the master's /metrics, not by
//     counting the frontier (a count(*) over 10,000,000 rows every few
//     seconds would be PostgreSQL work charged to the crawl); the database
//     confirms both at the end;
//   - with --profile-after F > 0, takes a --profile-seconds CPU profile of
//     the master once F × --min-pages pages are fetched and prints its top
//     functions (go tool pprof);
//   - stops the daemons and prints pages/s and discovered URLs/s for each
//     tenth of the run's wall time (from the master's start to the sample
//     that met both thresholds; values at decile boundaries interpolated
//     between samples), the peak RSS (VmHWM) of the master and each
//     assistant, PostgreSQL's memory (see below), CPU per page of each
//     process, and the database's bytes per frontier URL:
//     pg_total_relation_size('frontier') (heap, TOAST and every index) /
//     rows, and pg_database_size / frontier rows (results and bodies
//     included).
//
// PostgreSQL's memory is given two ways, because the RSS of its processes
// counts the shared buffers each one touched, so a sum double-counts them:
// the largest VmHWM of a client backend of the run's database (what `make
// bench` reports), and the peak over samples of the sum of the private
// (RssAnon) memory of every postgres process of the machine, to which
// shared_buffers (printed too) adds once.
//
// The figures go to stdout and, with --out, into a section of that file
// between the markers "<!-- sitescale begin -->" and "<!-- sitescale
// end -->", which a later run replaces (appended at the end the first
// time), so the harness's generated part and its prose stay as they are.
package main
