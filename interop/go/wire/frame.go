package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// MaxMessageBytes is the default size limit of a frame, checked on the length prefix before
// the body is read (1 MiB).
const MaxMessageBytes = 1 << 20

// maxVarintBytes: frame lengths are unsigned LEB128 of at most 4 bytes.
const maxVarintBytes = 4

// AppendFrame appends body with its varint length prefix.
func AppendFrame(dst, body []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

// FrameReader reads length-prefixed frames from a stream.
type FrameReader struct {
	r     *bufio.Reader
	Limit int
	// Started, when set, is called once a frame's first byte has come: a server starts its
	// stall timer there, so an idle stream is kept while a frame begun must finish in time.
	Started func()
}

// NewFrameReader reads frames of at most MaxMessageBytes.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReader(r), Limit: MaxMessageBytes}
}

// ErrFatal marks a frame error after which the stream cannot be read on (the length prefix
// itself was bad): the reader answers it, then closes the stream.
type FatalError struct{ E *Error }

func (f FatalError) Error() string { return f.E.Error() }

// Next returns the next frame's body. io.EOF at a clean end; io.ErrUnexpectedEOF for a frame
// cut short; FatalError for a prefix over the limit or no varint; an *Error for an empty frame.
func (f *FrameReader) Next() ([]byte, error) {
	var n uint64
	for i := 0; ; i++ {
		b, err := f.r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if i == 0 && f.Started != nil {
			f.Started()
		}
		if i >= maxVarintBytes {
			return nil, FatalError{Serialization("frame length prefix is not a varint")}
		}
		n |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			break
		}
	}
	if n > uint64(f.Limit) {
		return nil, FatalError{TooLarge(int(n), f.Limit)}
	}
	if n == 0 {
		return nil, Serialization("empty frame")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(f.r, body); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}
