// Package comparetest runs a real compare.Server for tests and benchmarks,
// as net/http/httptest does for handlers: on a real loopback listener, shut
// down and checked when the test ends. Every test layer of the project
// (compare, compare/probe, benchmarks, web, web/browser, cmd/ssevsws) starts
// its servers here, so "start a server and wait until it answers" exists
// once, with one set of retry timings.
//
// server.go starts servers and is native only, as the server is; seqs.go
// checks tick sequences and builds for GOOS=js too, for the browser tests;
// logbuffer.go keeps what a server or a child process logs, for a failing
// test to print.
package comparetest
