package server

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
)

// reconnectEvent is the last event of a stream when the server shuts down.
const reconnectEvent = "reconnect"

// shutdownMessage tells the clients of streams why they must reconnect.
const shutdownMessage = "the server is shutting down; reconnect"

var (
	heartbeatFrame = []byte(": heartbeat\n\n")
	shutdownData   = endData("shutdown", shutdownMessage) // once, for every stream
	expiredData    = endData("Expired", "this stream reached its longest life (as the API server's watches do); reconnect")
)

// sseHeaders are the headers of every stream.
func sseHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform") // no-transform: proxies must not compress
	h.Set("X-Accel-Buffering", "no")                 // nginx: do not buffer the stream
}

// endData is the data of an event that ends a stream (reconnect,
// forbidden): why, for programs and in words.
func endData(reason, message string) []byte {
	data, _ := json.Marshal(struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}{reason, message})
	return data
}

// Frame encodes one Server-Sent Event: its id (none when empty), its name
// and its data, JSON, which holds no newline. serve's hub calls it once per
// event (hub.Options.Frame), so every stream writes the same bytes.
func Frame[K ~string](name K, id string, data []byte) []byte {
	n := len("id: \nevent: \ndata: \n\n") + len(id) + len(name) + len(data)
	b := make([]byte, 0, n)
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// frameOf is m's shared frame, or one made now for a hub without Frame.
func frameOf(m hub.Message) []byte {
	if m.Frame != nil {
		return m.Frame
	}
	return Frame(m.Kind, m.ID, m.Data)
}

// retryFrame advises an SSE client to wait d before reconnecting.
func retryFrame(d time.Duration) []byte {
	return []byte("retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n\n")
}

// sseWriter writes frames to a stream: through net/http's ResponseWriter,
// or on the bare connection once hijacked. It keeps no buffer of its own
// (the ResponseWriter's is small and fixed), and it arms the connection's
// write deadline only when the one armed before is within timeout of
// running out: every write still has at least timeout, at most twice that,
// to go through, and a stream that keeps up sets it once per timeout
// instead of per write.
type sseWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	conn     net.Conn    // the hijacked connection, written directly; nil on net/http's
	bufs     net.Buffers // one send's frames, for writev
	timeout  time.Duration
	deadline time.Time // the one armed
	checked  time.Time // when gone last looked at the connection
	err      error     // the first write's error; the stream is done
}

func newSSEWriter(w http.ResponseWriter, timeout time.Duration) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func newConnWriter(conn net.Conn, timeout time.Duration) *sseWriter {
	return &sseWriter{conn: conn, timeout: timeout, checked: time.Now()}
}

func (o *sseWriter) arm() {
	if now := time.Now(); o.deadline.Sub(now) < o.timeout {
		o.deadline = now.Add(2 * o.timeout)
		if o.conn != nil {
			_ = o.conn.SetWriteDeadline(o.deadline)
		} else {
			_ = o.rc.SetWriteDeadline(o.deadline)
		}
	}
}

// send writes frames and makes them reach the client: on a hijacked
// connection all of them with one system call (writev), none copied.
func (o *sseWriter) send(frames ...[]byte) error {
	if o.err != nil {
		return o.err
	}
	o.arm()
	if o.conn != nil {
		o.bufs = frames
		_, o.err = o.bufs.WriteTo(o.conn) // consumes o.bufs, not frames
		o.bufs = nil
		return o.err
	}
	for _, f := range frames {
		if _, o.err = o.w.Write(f); o.err != nil { // a large frame may go out before Flush
			return o.err
		}
	}
	o.err = o.rc.Flush()
	return o.err
}

// gone reports whether the client of a hijacked connection has left,
// looking at most once per every: net/http's background read, which
// noticed it for net/http's connections, ended with the hijack, and a
// goroutine per connection to read instead would cost its stack. A write to
// a connection the client closed still succeeds once, so without this a
// stream would outlive its client by up to two heartbeats.
func (o *sseWriter) gone(every time.Duration) bool {
	if o.conn == nil || o.err != nil {
		return o.err != nil
	}
	if now := time.Now(); now.Sub(o.checked) >= every {
		o.checked = now
		if peerClosed(o.conn) {
			o.err = net.ErrClosed
		}
	}
	return o.err != nil
}
