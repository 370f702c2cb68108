package compare

// PublishNext publishes the tick after the newest one at once, outside the
// clock's schedule, and returns its seq. It exists for benchmarks and tests
// that must time one fan-out, or see one tick on the wire: they start the
// server with an Interval so long (an hour) that the clock stays quiet while
// they run. A server whose clock ticks by itself has no use for it: its
// ticks would come early, and its clock would later publish those seqs again.
//
// It returns once the tick is written, or queued, for every client.
func (s *Server) PublishNext() int64 {
	seq := s.hub.lastSeq() + 1
	s.hub.publish(seq)
	s.engine.Sync()
	return seq
}
