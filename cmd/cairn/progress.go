package main

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// liveLine redraws one status line on stderr (only on a terminal).
type liveLine struct {
	last int
}

func (l *liveLine) show(s string) {
	width := 100
	if utf8.RuneCountInString(s) > width {
		s = string([]rune(s)[:width-1]) + "…"
	}
	pad := ""
	if n := utf8.RuneCountInString(s); n < l.last {
		pad = strings.Repeat(" ", l.last-n)
	}
	l.last = utf8.RuneCountInString(s)
	fmt.Fprintf(os.Stderr, "\r%s%s", s, pad)
}

func (l *liveLine) done() {
	if l.last > 0 {
		fmt.Fprintf(os.Stderr, "\r%s\r", strings.Repeat(" ", l.last))
	}
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h := int(d / time.Hour)
	m := int(d/time.Minute) % 60
	s := int(d/time.Second) % 60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

func rate(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / d.Seconds()
}

// eta estimates the time left, or -1 when unknown.
func eta(done, total int64, elapsed time.Duration) time.Duration {
	if total <= 0 || done <= 0 || done >= total {
		return -1
	}
	return time.Duration(float64(elapsed) * float64(total-done) / float64(done))
}
