package s3

import (
	"context"
	"net"
	"time"
)

// DefaultIOTimeout is how long a connection of our transport may wait
// without a byte moving either way before it fails (Options.IOTimeout).
const DefaultIOTimeout = 2 * time.Minute

// idleDialer wraps dial so that each connection fails a read or write
// once no byte has moved on it, in either direction, for timeout.
//
// The transport's own timeouts do not cover a server that stops reading
// or stops sending in the middle of a body: an upload to a server that
// hangs (stopped, or its disk gone) blocks in write once the socket
// buffers are full, and the kernel keeps the connection alive for as long
// as the peer's kernel answers, which is forever.
func idleDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, timeout: timeout}, nil
	}
}

// idleConn moves its deadline, for reads and writes alike, timeout past
// every read or write that moves bytes: a write in progress keeps alive
// the read the transport keeps waiting for the answer, and the reverse.
type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleConn) nudge() { _ = c.Conn.SetDeadline(time.Now().Add(c.timeout)) }

func (c *idleConn) Read(b []byte) (int, error) {
	c.nudge()
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.nudge()
	}
	return n, err
}

func (c *idleConn) Write(b []byte) (int, error) {
	c.nudge()
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.nudge()
	}
	return n, err
}
