// Package fanout writes the same pre-encoded frames to many connections for
// about what the kernel charges for writing them, without a goroutine per
// connection.
//
// # Why
//
// The textbook Go server gives every connection a goroutine that waits on a
// channel and writes with a deadline. It is simple and it isolates clients
// well, but per delivered event it pays for a channel send, a wake-up, a
// select, two deadline changes and a park, and per idle connection for a
// goroutine stack (8 KiB once it has written through net/http or
// coder/websocket) and the buffers of the layers it writes through. Measured
// in this project (see the README's costs section), that was about 1.8× the
// CPU of a plain loop that write(2)s the same bytes to every socket, and
// some 33 KB of memory per connection.
//
// # The fast path
//
// A connection the Engine can write to directly (a TCP socket: its
// syscall.RawConn) has no goroutine of its own. Broadcast hands a frame to
// the shard workers (a few goroutines, one per spare CPU); each does one
// non-blocking write(2) per connection it owns. Almost always the socket
// takes the whole frame and that is all a delivery costs: no lock but the
// connection's own, no allocation, no wake-up, no deadline.
//
// # The slow path
//
// A socket that cannot take the whole frame (its client is slow, stuck, or
// just descheduled) gets the rest of it, and every later frame, in its own
// bounded queue, and one goroutine for as long as it is behind. That
// goroutine writes with Config.WriteTimeout as a deadline, then hands the
// connection back to the fast path once its queue is empty. So a stuck client
// never delays the others (the workers never block on it), costs a goroutine
// only while it is behind, and is closed with ErrTooSlow when its queue
// overflows (Config.MaxQueue frames) or a write times out. A connection with
// no raw socket (TLS) always takes this path.
//
// # Order
//
// Every write to a connection, a broadcast frame, a frame of its own (a chat
// echo, a WebSocket control frame through NetConn), goes through Conn.Write,
// which holds the connection's lock while it decides: straight to the socket
// when nothing is queued, else behind what is queued. Frames are never
// interleaved and never reordered. A protocol whose last words are its own
// (WebSocket's close frame) seals the connection (Seal, WriteAndSeal):
// from then on only its owner's frames go out, so no data frame can follow
// the close frame.
//
// A broadcast carries a sequence number, and a connection joins the
// broadcasts from a given one on (Conn.Join): whoever wrote it the frames
// before (a replay of missed events, say) decides from where, under its own
// lock, and no frame is sent twice or skipped whatever the workers are doing
// at that moment.
//
// # Lock order
//
// A caller's lock (a hub's) before a shard's, a shard's before none: the
// workers copy their shard's list under its lock and write without it. A
// connection's lock is a leaf: nothing else is locked while it is held, and
// nothing blocks under it but one non-blocking write(2). Closing a
// connection never calls back into the caller; its owner learns of it when
// its own read of the connection fails (every owner keeps one reader: it
// must notice a client that hangs up anyway), and asks Conn.Err why.
package fanout
