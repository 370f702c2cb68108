// Package broker routes SSE chats between ssevsws instances over NATS
// (github.com/nats-io/nats.go), and can run the NATS server itself, in
// process (github.com/nats-io/nats-server/v2), so that a workshop needs
// nothing else installed.
//
// Why a broker at all: behind a round-robin load balancer, an SSE
// client's POST /chat lands on any instance, mostly not the one holding its
// stream, which would answer 404. A WebSocket's chat never has that
// problem: it comes up the socket its echo goes down. The broker carries
// only what must cross instances, one request and one reply per chat;
// ticks never cross it, because every instance derives them from the
// clock.
//
// Router implements compare.Router: the instance holding client K's stream
// subscribes to "ssevsws.chat.K" while the stream is open, and any other
// instance sends a chat for K as a NATS request on that subject. NATS
// answers "no responders" when nobody holds K (404), the holder answers
// what a local POST /chat would have (202, 429, 503 queue full), and a
// broker that is down or slow makes it a 503. The router reconnects by
// itself, for as long as it lives, and nats.go restores its subscriptions.
//
// Server is the embedded NATS server of -broker-embed.
//
// The compare package does not import this one; the binary wires it in
// (compare.Config.Router), as it does compare/probe.
package broker
