// Package promtest reads metric values out of a Prometheus registry in
// tests, by name and labels, for packages whose metrics live behind an
// injected registry rather than in a collector the test can reach.
package promtest
