package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/crypto"
)

func newKeyCommand(g *globals) *cobra.Command {
	var newPasswordFile string
	var cheapKDF bool
	kdf := func() *crypto.KDFParams {
		k := crypto.DefaultKDF
		if cheapKDF {
			k = repo.TestKDF
		}
		return &k
	}
	newPassword := func(ctx context.Context) ([]byte, error) {
		if newPasswordFile != "" {
			b, err := os.ReadFile(newPasswordFile)
			if err != nil {
				return nil, fmt.Errorf("read new password file: %w", err)
			}
			if p := bytes.TrimPrefix(firstLine(b), utf8BOM); len(p) > 0 {
				return p, nil
			}
			return nil, emptyPasswordError("--new-password-file " + newPasswordFile)
		}
		return promptPassword(ctx, "enter new password: ", true, "no new password: use --new-password-file, or run on a terminal")
	}
	cmd := &cobra.Command{
		Use:   "key",
		Short: "List, add and remove the passwords that open the repository",
		Long: `Each password is a key file wrapping the repository's master key: several
passwords open one repository, and changing one rewrites only its key file.

  cairn key list                 the key files; * marks the one in use
  cairn key add                  a new password (--new-password-file, or asked twice)
  cairn key remove ID            a key file, by ID prefix; never the last one, nor
                                 the one this command was opened with
  cairn key passwd               change the password in use`,
	}
	cmd.PersistentFlags().BoolVar(&cheapKDF, "insecure-kdf", false, "use a cheap key derivation (tests only)")
	cmd.PersistentFlags().MarkHidden("insecure-kdf")

	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List the key files", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close()
			keys, err := r.Keys(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				printJSON(keys)
				return nil
			}
			fmt.Fprintf(stdout, " %-10s  %-20s  %-16s  %s\n", "ID", "created", "user", "host")
			for _, k := range keys {
				mark := " "
				if k.Current {
					mark = "*"
				}
				if k.Err != "" {
					fmt.Fprintf(stdout, "%s%-10s  unreadable: %s\n", mark, k.ID[:min(10, len(k.ID))], k.Err)
					continue
				}
				fmt.Fprintf(stdout, "%s%-10s  %-20s  %-16s  %s\n", mark, k.ID[:min(10, len(k.ID))], k.Created.Local().Format(time.DateTime), k.Username, k.Host)
			}
			return nil
		},
	})
	// withNewPassword runs change under a lock with the new password and
	// reports the key file it wrote.
	withNewPassword := func(use, short, long, op, done, msg string, change func(*repo.Repository, context.Context, []byte) (string, error)) *cobra.Command {
		c := &cobra.Command{
			Use: use, Short: short, Long: long + `

The new password is read from --new-password-file (or the file that
CAIRN_NEW_PASSWORD_FILE names), or asked twice on the terminal; it cannot
be empty. The repository is opened with the current password as usual
(--password-file, --password-command, CAIRN_PASSWORD or a prompt).`,
			Args: noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				r, lock, release, err := g.openLocked(cmd.Context(), op)
				if err != nil {
					return err
				}
				defer release()
				pw, err := newPassword(cmd.Context())
				if err != nil {
					return err
				}
				id, err := change(r, lock.Context(), pw)
				if err != nil {
					return err
				}
				g.report(map[string]any{"message_type": done, "id": id}, msg, id[:10])
				return nil
			},
		}
		c.Flags().StringVar(&newPasswordFile, "new-password-file", os.Getenv("CAIRN_NEW_PASSWORD_FILE"), "read the new password from `file` (env CAIRN_NEW_PASSWORD_FILE)")
		return c
	}
	cmd.AddCommand(withNewPassword("add", "Add a password",
		"Add a password: a new key file wrapping the master key. The passwords\nalready there keep working.", "key add", "key_added", "added key %s",
		func(r *repo.Repository, ctx context.Context, pw []byte) (string, error) {
			return r.AddKey(ctx, pw, kdf())
		}))
	cmd.AddCommand(&cobra.Command{
		Use: "remove ID", Short: "Remove a password's key file", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, lock, release, err := g.openLocked(cmd.Context(), "key remove")
			if err != nil {
				return err
			}
			defer release()
			id, err := r.RemoveKey(lock.Context(), args[0])
			if err != nil {
				return err
			}
			g.report(map[string]any{"message_type": "key_removed", "id": id}, "removed key %s", id[:10])
			return nil
		},
	})
	cmd.AddCommand(withNewPassword("passwd", "Change the password in use",
		"Change the password this command was opened with: a new key file is\nwritten, then the old one removed.", "key passwd", "password_changed", "password changed: new key %s",
		func(r *repo.Repository, ctx context.Context, pw []byte) (string, error) {
			return r.ChangePassword(ctx, pw, kdf())
		}))
	return cmd
}

// report prints a one-line result: JSON, or text unless --quiet.
func (g *globals) report(j map[string]any, format string, args ...any) {
	if g.json {
		printJSON(j)
	} else if !g.quiet {
		fmt.Fprintf(stdout, format+"\n", args...)
	}
}
