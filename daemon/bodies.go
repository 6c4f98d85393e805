package daemon

import "sync"

// bodyPool recycles the buffers request bodies are read into: at full
// intake the bodies were about 40% of the bytes hookd allocated, and
// each new one was zeroed before being read into. A buffer goes back once
// its request is answered; by then the store has copied the events into
// its own write buffer, and nothing else keeps the body (parsed fields
// are copies, jobs keep their rendered parameters).
type bodyPool struct {
	pool sync.Pool // of *[]byte with cap maxPooledBody
	// poison, in tests, overwrites each buffer put back so that a body
	// used after its request was answered shows.
	poison bool
}

// maxPooledBody is the largest body read into a pooled buffer: Wassenger
// events are a few KB; larger ones get a buffer of their own.
const maxPooledBody = 16 << 10

var bodies bodyPool

// get returns a buffer of length n.
func (p *bodyPool) get(n int64) []byte {
	if n > maxPooledBody {
		return make([]byte, n)
	}
	if b, ok := p.pool.Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, maxPooledBody)
}

// put gives back a buffer from get; others are left to the collector.
func (p *bodyPool) put(b []byte) {
	if cap(b) != maxPooledBody {
		return
	}
	b = b[:cap(b)]
	if p.poison {
		for i := range b {
			b[i] = 'X'
		}
	}
	p.pool.Put(&b)
}
