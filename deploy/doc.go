// Package deploy holds crawlmaster's operations kit and its tests; it has
// no non-test code. The kit (deploy/README.md says how to use it):
//
//	systemd/crawlmaster-master.service       the master daemon
//	systemd/crawlmaster-assistant@.service   a template: one assistant per instance (its gRPC port)
//	systemd/crawlmaster.sysusers.conf        the crawlmaster system user
//	prometheus/prometheus.yml                scrape configuration of masters and assistants
//	prometheus/alerts.yml                    alerting rules
//	prometheus/alerts_test.yml               promtool unit tests of every rule, firing and not
//	grafana/crawlmaster.json                 the dashboard
//
// The tests check each file with the tool that will read it, never a
// look-alike:
//
//   - systemd-analyze verify (and security --offline, with an exposure
//     threshold) on the units in a scratch root holding the binaries they
//     name, systemd-sysusers on the user, and the real master and
//     assistant parsing the command lines of ExecStart=; TimeoutStopSec=
//     is checked against the drain graces of internal/config's defaults.
//   - promtool check config, check rules and test rules; every alert must
//     have a firing and a not-firing case in alerts_test.yml.
//   - Every metric a rule or a panel names must be one the code registers.
//   - A real Prometheus scrapes a live crawl (websim, a master, two
//     assistants as processes, a private PostgreSQL database): every
//     dashboard query and every part of every alert expression returns
//     series; provoked failures fire their alerts (URLs resolving to
//     special-purpose addresses: CrawlmasterSSRFRefusals; a client
//     without a certificate: CrawlmasterPeerRefused; a SIGKILLed
//     assistant: CrawlmasterAssistantDown and CrawlmasterTargetDown).
//
// The tools come from Debian (scripts/deploy-tools.sh installs them when
// missing): systemd's for the units, the prometheus package's promtool and
// prometheus. A test that cannot get its tool fails; only the live test is
// skipped in -short mode, because it builds and runs the daemons.
package deploy
