package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Write writes h as a history file: the header line, then one line per
// event, encoded as the recorder encodes them. Type and Format of the header
// are filled in when empty. Write does not validate the events.
func Write(w io.Writer, h *History) error {
	hdr := h.Header
	if hdr.Type == "" {
		hdr.Type = TypeHeader
	}
	if hdr.Format == "" {
		hdr.Format = Format
	}
	line, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("encode history header: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(append(line, '\n'))
	var buf []byte
	for i := range h.Events {
		buf = appendEvent(buf[:0], &h.Events[i])
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}
