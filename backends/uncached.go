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

// Copier is the ability of a filter that keeps local copies of objects
// (filter/cache): KeepsCopy reports whether a read of name may be served
// from such a copy instead of the storage.
type Copier interface {
	KeepsCopy(name string) bool
}

// MayServeCopy reports whether a read of name through b may come from a
// local copy of it: only then is reading it again under Uncached worth
// its cost.
func MayServeCopy(b Backend, name string) bool {
	c, ok := As[Copier](b)
	return ok && c.KeepsCopy(name)
}
