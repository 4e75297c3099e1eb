package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxPasswordBytes is the most read of a password file before its first
// line has ended, and the most a password command may print. A password
// is one line; a path given by mistake (a disk, /dev/zero, a log file
// without line ends) or a command that prints without end is refused
// once past this, instead of being read whole into memory.
const maxPasswordBytes = 64 << 10

// errPasswordTooLong says what is wrong with a file or output past
// maxPasswordBytes.
var errPasswordTooLong = errors.New("no line end in its first 64 KiB: a password file holds the password on its first line")

// readPasswordFile returns what the file at path holds up to the end of
// its first line (or its end), reading no further: a named pipe that
// stays open after the line is read once it is written.
func readPasswordFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b []byte
	chunk := make([]byte, 4096)
	for {
		n, err := f.Read(chunk)
		b = append(b, chunk[:n]...)
		if bytes.IndexByte(chunk[:n], '\n') >= 0 {
			return b, nil
		}
		if len(b) > maxPasswordBytes {
			return nil, fmt.Errorf("%s: %w", path, errPasswordTooLong)
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// cappedOutput keeps what a password command prints, up to
// maxPasswordBytes; past that it stops the command with stop and keeps
// no more.
type cappedOutput struct {
	buf  bytes.Buffer
	over bool
	stop func()
}

func (c *cappedOutput) Write(p []byte) (int, error) {
	if c.over {
		return len(p), nil
	}
	if c.buf.Len()+len(p) > maxPasswordBytes {
		c.over = true
		c.stop()
		return len(p), nil
	}
	return c.buf.Write(p)
}
