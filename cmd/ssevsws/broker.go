package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/ssevsws/ssevsws/compare/broker"
)

// serveBroker is the broker side of one instance: the NATS server it runs
// (-broker-embed) and its router's connection (-broker, or its own
// embedded server). Both are nil without either flag.
type serveBroker struct {
	url      string // where the router connects; "" without a broker
	embedded *broker.Server
	router   *broker.Router
}

// startBroker starts what opts ask for: an embedded NATS server, a router
// connected to the broker, or nothing. A broker that cannot be reached is
// no error: the router keeps trying, and only SSE chat that must cross
// instances waits for it. An embedded server that cannot listen is.
func startBroker(opts options, log *slog.Logger) (*serveBroker, error) {
	b := &serveBroker{url: opts.broker}
	if opts.brokerEmbed != "" {
		ns, err := broker.Embed(opts.brokerEmbed, log)
		if err != nil {
			return nil, fmt.Errorf("-broker-embed %s: %w", opts.brokerEmbed, err)
		}
		b.embedded, b.url = ns, ns.URL()
	}
	if b.url == "" {
		return b, nil
	}
	r, err := broker.Connect(broker.Config{URL: b.url, Instance: opts.cfg.Instance, Logger: log})
	if err != nil {
		b.stop()
		return nil, err
	}
	b.router = r
	return b, nil
}

// stop closes the router, then the embedded server: after the ssevsws
// server has stopped, whose streams release their routes on the way.
func (b *serveBroker) stop() {
	if b.router != nil {
		b.router.Close()
	}
	if b.embedded != nil {
		b.embedded.Shutdown()
	}
}

// checkBrokerFlags refuses -broker and -broker-embed together (the second
// already says which broker to use), a -broker that is not a NATS URL, and
// a -broker-embed that is not host:port.
func checkBrokerFlags(brokerURL, embed string) error {
	if brokerURL != "" && embed != "" {
		return errors.New("-broker and -broker-embed: give one; -broker-embed uses its own server (the other instances get -broker nats://<its address>)")
	}
	if brokerURL != "" {
		u, err := url.Parse(brokerURL)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Port() == "" || u.Path != "" {
			return fmt.Errorf("-broker %q: want nats://host:port", brokerURL)
		}
	}
	if embed != "" {
		if _, _, err := net.SplitHostPort(embed); err != nil {
			return fmt.Errorf("-broker-embed %q: want host:port, e.g. 127.0.0.1:4222", embed)
		}
	}
	return nil
}
