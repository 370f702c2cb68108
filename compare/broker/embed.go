package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server running in this process (nats-server/v2 as a
// library), so that a workshop needs nothing else installed: the first
// instance embeds it (-broker-embed), the others connect to it (-broker).
type Server struct {
	ns *server.Server
}

// embedReady bounds how long Embed waits for the server to listen.
const embedReady = 10 * time.Second

// Embed starts a NATS server listening on addr (host:port; port 0 picks a
// free one) and returns once it accepts connections. Its log goes to log
// (nil: slog.Default()): warnings and errors as such, the rest at debug.
// Call Shutdown to stop it.
func Embed(addr string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded broker: port %q: want a number from 0 to 65535", p)
	}
	if port == 0 {
		port = server.RANDOM_PORT // nats-server's 0 would mean its default, 4222
	}
	ns, err := server.NewServer(&server.Options{
		Host:            host,
		Port:            port,
		ServerName:      "ssevsws-" + strconv.Itoa(port),
		NoSigs:          true, // the process's signals are the ssevsws server's to handle
		NoSystemAccount: true, // one account, no monitoring traffic: it only carries chats
	})
	if err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	nl := &natsLog{log: log.With("component", "nats-server"), fatal: make(chan string, 1)}
	ns.SetLoggerV2(nl, false, false, false)
	ns.Start()
	// The listener is opened in the background; a port in use comes
	// through the logger's Fatalf, which must not exit the process as
	// nats-server's own logger would.
	for deadline := time.Now().Add(embedReady); !ns.ReadyForConnections(20 * time.Millisecond); {
		select {
		case msg := <-nl.fatal:
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, fmt.Errorf("embedded broker on %s: %s", addr, msg)
		default:
		}
		if time.Now().After(deadline) {
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, errors.New("embedded broker on " + addr + ": not listening after " + embedReady.String())
		}
	}
	log.Info("embedded NATS broker listening", "url", ns.ClientURL())
	return &Server{ns: ns}, nil
}

// URL is where instances connect: nats://host:port, the real port when
// Embed was given port 0.
func (s *Server) URL() string { return s.ns.ClientURL() }

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ns.Addr().String() }

// Shutdown stops the server and waits until it has stopped. Connected
// routers see the broker go, and reconnect when one is back at the same
// address.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// natsLog hands nats-server's log to slog.
type natsLog struct {
	log   *slog.Logger
	fatal chan string
}

func (l *natsLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *natsLog) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLog) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLog) Tracef(format string, v ...any)  {}

// Fatalf is an error nats-server cannot go on after (a port in use): Embed
// reports it instead of the process exiting.
func (l *natsLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
	select {
	case l.fatal <- msg:
	default:
	}
}
