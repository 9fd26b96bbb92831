package assistant_test

import (
	"reflect"
	"testing"

	"github.com/crawlmaster/crawlmaster/assistant"
	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/internal/config"
)

// rpc.yaml's fetch defaults and the crawl library's are one set: an
// assistant on an empty fetch section fetches like crawl.DefaultConfig.
func TestFetchDefaultsAreTheLibrarys(t *testing.T) {
	got, err := assistant.FetchConfig(config.Default().Fetch)
	if err != nil {
		t.Fatal(err)
	}
	want := crawl.DefaultConfig()
	got.MaxIdleConns = want.MaxIdleConns // set from the slot count, not rpc.yaml
	if len(got.Resolve) == 0 {
		got.Resolve = nil // no rules: real DNS either way
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fetch defaults differ:\n rpc.yaml %+v\n crawl    %+v", got, want)
	}
}
