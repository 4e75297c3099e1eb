package backends

import "context"

type uncachedKey struct{}

// Uncached returns a context under which reads reach the storage itself: a
// filter that keeps local copies of objects (package filter/cache) neither
// serves a read from its copy nor replaces its copy with what it read.
// Writes and removals still keep the copies in step. Use it where what the
// storage holds must be known, not what this host remembers of it: a check,
// a repair that drops or forgets what it cannot read, a second look at an
// object whose copy did not verify.
func Uncached(ctx context.Context) context.Context {
	return context.WithValue(ctx, uncachedKey{}, true)
}

// IsUncached reports whether ctx was made by Uncached (or derives from
// such a context).
func IsUncached(ctx context.Context) bool {
	v, _ := ctx.Value(uncachedKey{}).(bool)
	return v
}
