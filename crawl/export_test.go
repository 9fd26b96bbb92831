package crawl

import "github.com/crawlmaster/crawlmaster/crawl/fetchconfig"

// NewWithDialHook is New with a hook that sees every address the SSRF
// guard lets through, before connecting; an error from it aborts the
// connection. Tests use it to prove that a refused address is never
// dialled and that nothing leaves loopback even if the guard were broken.
func NewWithDialHook(cfg fetchconfig.Config, d Deps, hook func(network, address string) error) (Fetcher, error) {
	return newStack(cfg, d, hook)
}
