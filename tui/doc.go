// Package tui is cairn's terminal browser, built on bubbletea: snapshots,
// their trees, file versions, search, diffs and restores.
//
// # Pages
//
// The App keeps a stack of pages. The snapshot list is the bottom; enter
// opens a snapshot's tree on top of it, and the tree opens previews and
// version lists; search, diff and the restore dialog are pushed the same
// way. q or esc pops the top page; ? shows every key of the page on top.
// Esc while typing a filter cancels it: the whole list again, the cursor
// where it was before /. An Alt key is never taken for esc (burstInput
// tells them apart by timing): in a text field alt+backspace deletes the
// last word, other Alt keys do nothing.
//
// # Loading
//
// Every read of the repository runs in a tea.Cmd that returns a typed
// message naming the page that asked for it, so a slow load never freezes
// the screen and a page that was closed meanwhile simply drops its answer.
// A spinner turns while anything is loading. RunOpening opens the
// repository the same way, with the screen up saying which step it is at
// (reading index segments 120/3000), and q or ctrl+c quit meanwhile. Listings come from the
// repository library (the local index and tree blobs), never from a
// process per folder.
//
// # Marks and restore
//
// Space marks a file or folder of any snapshot, in the tree, search
// results, versions or a diff; R opens the restore dialog for every mark,
// which runs repo/restore once per mark, under one lock. Folders it makes
// above the marks get the snapshot's metadata after the contents. Each
// run links the hardlinks it restores; names of one file in two separate
// marks become two copies, and the report says so. Esc, q or ctrl+c stop
// a running restore and wait for it, so that the report says what was
// not restored (nothing partial is left); a second ctrl+c quits at once.
// Marks live only in the session: q on the first page asks before it
// drops them (a second q quits); ctrl+c never asks.
package tui
