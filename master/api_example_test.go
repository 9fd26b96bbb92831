package master_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// A program submits URLs to a crawl and follows its results, resuming
// from the last cursor it saw (kept in a file here). It needs a client
// certificate from `master certs --client NAME`. The README shows it.
func Example_apiClient() {
	cert, err := tls.LoadX509KeyPair(".data/certs/client-ops.crt", ".data/certs/client-ops.key")
	if err != nil {
		log.Fatal(err)
	}
	caPEM, err := os.ReadFile(".data/certs/ca.crt")
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots,
		ServerName: "crawlmaster-master", MinVersion: tls.VersionTLS13}) // rpc.yaml tls.master_name
	conn, err := grpc.NewClient("10.0.0.2:9000", grpc.WithTransportCredentials(creds)) // rpc.manager
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	api := pb.NewCrawlManagerClient(conn)
	ctx := context.Background()

	sub, err := api.SubmitURLs(ctx, &pb.SubmitURLsRequest{Crawl: "deals", Urls: []string{"https://example.com/", "ftp://x/"}})
	if err != nil {
		log.Fatal(err) // a standby answers FailedPrecondition with a NotLeader detail
	}
	for _, v := range sub.GetVerdicts() {
		fmt.Println(v.GetNormalizedUrl(), v.GetRejected().GetReason())
	}

	cursor, _ := os.ReadFile("deals.cursor") // empty the first time: from the start
	stream, err := api.StreamResults(ctx, &pb.StreamResultsRequest{Crawl: "deals", Cursor: string(cursor)})
	if err != nil {
		log.Fatal(err)
	}
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			return
		}
		if err != nil {
			log.Fatal(err) // reconnect later with the last cursor saved: nothing missed, nothing twice
		}
		fmt.Println(r.GetUrl(), r.GetHttpStatus(), r.GetUnchanged())
		_ = os.WriteFile("deals.cursor", []byte(r.GetCursor()), 0o644)
	}
}
