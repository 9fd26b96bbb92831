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

--depth N (site crawl): a CrawlSpider (SiteSpider) with one Rule whose
LinkExtractor reads a, area, frame and iframe (href, src), DEPTH_LIMIT N,
links kept only when not rel=nofollow, http(s), and on a host with the
registrable domain of the page they are on (domain scope; see SiteSpider).
Links are read from 2xx pages only (HTTPERROR_ALLOW_ALL off; the others
reach the errback and are counted there). Start URLs are dont_filter, as in
Scrapy's default start_requests, so each home page is fetched again when a
page links it (websim's timeline shows it as repeated requests).

--delay D (polite crawl): DOWNLOAD_DELAY D, CONCURRENT_REQUESTS_PER_DOMAIN 1,
RANDOMIZE_DOWNLOAD_DELAY False, and the DownloaderAwarePriorityQueue that
Scrapy's "Broad Crawls" documentation recommends for many domains at once
(with the default queue: 0.10 x the politeness limit, 4 m 49 s). Scrapy
spaces the moments it hands requests to the download handler, not the
requests on the wire.
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
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.spiders import CrawlSpider, Rule
from scrapy.utils.httpobj import urlparse_cached
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


def parse_delay(s):
    """A duration that may be zero."""
    if re.fullmatch(r"\s*0*\.?0*\s*(ms|s|m|h)?\s*", s):
        return 0.0
    return parse_duration(s)


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


def registrable(host):
    """The registrable domain of a websim host: its last two labels, which
    is what the Public Suffix List's default rule gives for a TLD it does not
    list (.test, .invalid)."""
    return ".".join((host or "").lower().rstrip(".").split(".")[-2:])


class SiteSpider(CrawlSpider):
    """Site crawl: every listed home page, then the links of every 2xx HTML
    page (a, area, frame, iframe), depth-limited by DEPTH_LIMIT, within the
    registrable domain of the page they are found on (domain scope: an
    offsite filter by registrable domain rather than allowed_domains, which
    would admit links from one seed's site to another's), rel=nofollow
    skipped, http(s) only."""

    name = "sites"
    rules = (
        Rule(
            LinkExtractor(tags=("a", "area", "frame", "iframe"), attrs=("href", "src"), deny_extensions=[]),
            callback="page",
            errback="failed",
            follow=True,
            process_links="keep_links",
            process_request="in_scope",
        ),
    )

    def __init__(self, domains=(), **kw):
        super().__init__(**kw)
        self.domains = domains
        self.pages_ok = 0
        self.responses = 0
        self.errors = dict.fromkeys(CLASSES, 0)
        self.other_kinds = {}
        self.failed_urls = set()
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
            # No callback: CrawlSpider's own parse (parse_start_url, then the
            # rules). dont_filter as in Scrapy's default start_requests.
            yield scrapy.Request(f"http://{d}/", errback=self.failed, dont_filter=True)

    def parse_start_url(self, response):
        self.page(response)
        return []

    def page(self, response):
        self.count_response(response.status)

    def count_response(self, st):
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

    def keep_links(self, links):
        return [l for l in links if not l.nofollow and l.url.startswith(("http://", "https://"))]

    def in_scope(self, request, response):
        if registrable(urlparse_cached(request).hostname) != registrable(urlparse_cached(response).hostname):
            return None
        return request

    def failed(self, failure):
        if failure.check(HttpError):  # a non-2xx response (HttpErrorMiddleware)
            self.count_response(failure.value.response.status)
            return
        # The dupefilter drops repeats before they are requested, but a
        # robots.txt refusal happens in the downloader, once per request.
        u = failure.request.url
        if u in self.failed_urls:
            return
        self.failed_urls.add(u)
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
    ap.add_argument("--depth", type=int, default=0,
                    help="site crawl: CrawlSpider following links up to DEPTH_LIMIT hops (0: home pages only)")
    ap.add_argument("--delay", type=parse_delay, default=0.0,
                    help="politeness: DOWNLOAD_DELAY, CONCURRENT_REQUESTS_PER_DOMAIN = 1, RANDOMIZE_DOWNLOAD_DELAY = False")
    a = ap.parse_args()
    if a.concurrency < 1 or a.limit < 0 or a.depth < 0:
        ap.error("--concurrency must be >= 1, --limit and --depth >= 0")
    proxy = os.environ.get("http_proxy", "")
    if proxy != f"http://{a.websim}":
        print(f"spider.py: warning: http_proxy={proxy!r}, expected http://{a.websim} (use run.sh)",
              file=sys.stderr)

    domains = read_list(a.list, a.limit)
    print(f"scrapy: crawling {len(domains)} domains, concurrency {a.concurrency}, "
          f"timeout {a.timeout}s, depth {a.depth}, delay {a.delay}s, proxy {proxy}", file=sys.stderr)
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
    spider_cls = BenchSpider
    if a.depth > 0:
        spider_cls = SiteSpider
        # Links are read from 2xx pages only (CrawlSpider follows links of
        # every response its callbacks get); the others reach the errback.
        settings["HTTPERROR_ALLOW_ALL"] = False
        settings["DEPTH_LIMIT"] = a.depth
    if a.delay > 0:
        settings["DOWNLOAD_DELAY"] = a.delay
        settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = 1
        settings["RANDOMIZE_DOWNLOAD_DELAY"] = False
        # Scrapy's "Broad Crawls" documentation: with per-domain limits,
        # the default priority queue hands the downloader requests of a
        # few domains (the latest links found) and CONCURRENT_REQUESTS of
        # them then sit out those domains' delays while every other domain
        # waits: 0.10 x the politeness limit here (4 m 49 s), against 0.36
        # with the queue its docs recommend for crawling many domains.
        settings["SCHEDULER_PRIORITY_QUEUE"] = "scrapy.pqueues.DownloaderAwarePriorityQueue"
    if os.environ.get("SCRAPY_PQ"):  # for experiments
        settings["SCHEDULER_PRIORITY_QUEUE"] = os.environ["SCRAPY_PQ"]
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider_cls)
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
