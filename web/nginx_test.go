//go:build !js

package web_test

import (
	"os"
	"testing"

	"github.com/ssevsws/ssevsws/compare/comparetest"
)

// The shipped nginx-two.conf (Experiment 6 of the README) runs here in a
// real nginx, in front of two in-process instances, so that the page test
// sees what a class sees: every request, the page's own files included,
// handed to the next instance in turn.

// nginxTwoConf is the shipped configuration, from the web package's
// directory.
const nginxTwoConf = "../cmd/ssevsws/nginx-two.conf"

// startNginxTwo runs nginx-two.conf in front of instances a and b
// (host:port) until the test ends, and returns nginx's address.
func startNginxTwo(t *testing.T, a, b string) string {
	t.Helper()
	conf, err := os.ReadFile(nginxTwoConf)
	if err != nil {
		t.Fatal(err)
	}
	return comparetest.Nginx(t, string(conf), "127.0.0.1:8081",
		"server 127.0.0.1:8080;", "server "+a+";",
		"server 127.0.0.1:8082;", "server "+b+";")
}
