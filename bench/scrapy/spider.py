"""Scrapy peer of crawlmaster's benchmark (run it through run.sh).

Crawls http://<domain>/ of every listed domain with a stock Scrapy
(Debian's python3-scrapy), robots.txt obeyed, one page per domain, and
prints one JSON line on stdout:

    {"tool":"scrapy","pages_ok":N,"responses":N,"errors":{...},"wall_seconds":X}

All traffic goes to websim as a plain-HTTP proxy (absolute-form requests),
set by run.sh through the http_proxy environment variable, which Scrapy's
HttpProxyMiddleware applies to every request that passes the downloader
middlewares - the robots.txt requests of RobotsTxtMiddleware included.
There is no name resolution: .invalid hosts reach websim too, which answers
421 Misdirected; those responses are counted as "dns" errors, not as
responses.
"""

import argparse
import json
import os
import re
import sys
import time

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import IgnoreRequest
from twisted.internet import defer
from twisted.internet import error as terr
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

CLASSES = ("http_4xx", "http_5xx", "timeout", "dns", "conn", "robots_disallowed", "other")


def parse_duration(s):
    """Go-style duration ("5s", "500ms", "1m", "1.5s") or plain seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*", s)
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {s!r}")
    mult = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    v = float(m.group(1)) * mult
    if v <= 0:
        raise argparse.ArgumentTypeError("duration must be > 0")
    return v


def read_list(path, limit):
    domains = []
    with open(path, newline="") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if "," in line:
                line = line.split(",", 1)[1].strip()
            domains.append(line.lower())
            if limit and len(domains) == limit:
                break
    return domains


def classify_failure(failure):
    if failure.check(IgnoreRequest):
        # RobotsTxtMiddleware: "Forbidden by robots.txt" (also for a
        # forbidden redirect hop); RedirectMiddleware: "max redirections
        # reached".
        return "robots_disallowed" if "robots" in str(failure.value) else "other"
    if failure.check(terr.TimeoutError, terr.TCPTimedOutError, defer.TimeoutError):
        return "timeout"
    if failure.check(terr.DNSLookupError):
        return "dns"
    if failure.check(
        terr.ConnectError,
        terr.ConnectionLost,
        terr.ConnectionDone,
        ResponseFailed,
        ResponseNeverReceived,
    ):
        return "conn"
    return "other"


class BenchSpider(scrapy.Spider):
    name = "bench"

    def __init__(self, domains=(), **kw):
        super().__init__(**kw)
        self.domains = domains
        self.pages_ok = 0
        self.responses = 0
        self.errors = dict.fromkeys(CLASSES, 0)
        self.other_kinds = {}
        self.t_start = None
        self.t_end = None

    @classmethod
    def from_crawler(cls, crawler, *args, **kw):
        spider = super().from_crawler(crawler, *args, **kw)
        crawler.signals.connect(spider.on_opened, signal=signals.spider_opened)
        crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
        return spider

    def on_opened(self, spider):
        self.t_start = time.monotonic()

    def on_closed(self, spider, reason):
        self.t_end = time.monotonic()

    def start_requests(self):
        for d in self.domains:
            # dont_filter as in Scrapy's default start_requests: a redirect
            # back to the seed URL must not be dropped by the dupefilter.
            yield scrapy.Request(
                f"http://{d}/", callback=self.parse, errback=self.failed, dont_filter=True
            )

    def parse(self, response):
        st = response.status
        if st == 421:  # websim: host not served (unknown .invalid domain)
            self.errors["dns"] += 1
            return
        self.responses += 1
        if st == 200:
            self.pages_ok += 1
        elif 400 <= st < 500:
            self.errors["http_4xx"] += 1
        elif 500 <= st < 600:
            self.errors["http_5xx"] += 1
        elif not 200 <= st < 300:
            self.errors["other"] += 1

    def failed(self, failure):
        c = classify_failure(failure)
        self.errors[c] += 1
        if c == "other":
            k = f"{failure.type.__name__}: {failure.value}"[:80]
            self.other_kinds[k] = self.other_kinds.get(k, 0) + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", required=True, help="Tranco-style list: rank,domain lines")
    ap.add_argument("--websim", required=True, help="websim host:port (used as the http proxy)")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--timeout", type=parse_duration, default=5.0)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    if a.concurrency < 1 or a.limit < 0:
        ap.error("--concurrency must be >= 1 and --limit >= 0")
    proxy = os.environ.get("http_proxy", "")
    if proxy != f"http://{a.websim}":
        print(f"spider.py: warning: http_proxy={proxy!r}, expected http://{a.websim} (use run.sh)",
              file=sys.stderr)

    domains = read_list(a.list, a.limit)
    print(f"scrapy: crawling {len(domains)} domains, concurrency {a.concurrency}, "
          f"timeout {a.timeout}s, proxy {proxy}", file=sys.stderr)
    settings = {
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": a.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": a.concurrency,
        "DOWNLOAD_TIMEOUT": a.timeout,
        "RETRY_ENABLED": False,
        "REDIRECT_MAX_TIMES": 5,
        "LOG_LEVEL": "WARNING",
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",  # silences a deprecation warning
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BenchSpider)
    t0 = time.monotonic()
    process.crawl(crawler, domains=domains)
    process.start()
    t1 = time.monotonic()
    spider = crawler.spider
    start = spider.t_start if spider.t_start is not None else t0
    end = spider.t_end if spider.t_end is not None else t1

    stats = crawler.stats.get_stats()
    keep = {k: v for k, v in stats.items()
            if k.startswith(("robotstxt/", "downloader/request_count", "downloader/response_count",
                             "downloader/exception_type_count", "finish_reason"))}
    print("scrapy: stats " + json.dumps(keep, default=str, sort_keys=True), file=sys.stderr)
    if spider.other_kinds:
        print("scrapy: other errors " + json.dumps(spider.other_kinds, sort_keys=True), file=sys.stderr)

    out = {
        "tool": "scrapy",
        "pages_ok": spider.pages_ok,
        "responses": spider.responses,
        "errors": spider.errors,
        "wall_seconds": round(end - start, 3),
    }
    sys.stdout.write(json.dumps(out, separators=(",", ":")) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
