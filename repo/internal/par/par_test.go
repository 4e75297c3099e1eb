package par

import (
	"os"
	"runtime"
	"testing"
)

// OneMoreProcessor adds one processor however many ingests run at once,
// and the last undo gives it back; a GOMAXPROCS set in the environment is
// left alone.
func TestOneMoreProcessor(t *testing.T) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		undo := OneMoreProcessor()
		if got := runtime.GOMAXPROCS(0); got != Cores {
			t.Errorf("GOMAXPROCS set in the environment, but %d processors, want %d", got, Cores)
		}
		undo()
		return
	}
	a := OneMoreProcessor()
	b := OneMoreProcessor()
	if got := runtime.GOMAXPROCS(0); got != Cores+1 {
		t.Fatalf("two callers: %d processors, want %d", got, Cores+1)
	}
	a()
	a() // a second undo is a no-op
	if got := runtime.GOMAXPROCS(0); got != Cores+1 {
		t.Fatalf("one caller left: %d processors, want %d", got, Cores+1)
	}
	b()
	if got := runtime.GOMAXPROCS(0); got != Cores {
		t.Fatalf("none left: %d processors, want %d", got, Cores)
	}
}
