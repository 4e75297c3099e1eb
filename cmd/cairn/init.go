package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/crypto"
)

func newInitCommand(g *globals) *cobra.Command {
	var cheapKDF bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a new repository",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			loc, err := g.location()
			if err != nil {
				return err
			}
			// The password first: a refused one creates nothing.
			pw, err := g.password(cmd.Context(), true)
			if err != nil {
				return err
			}
			be, err := g.openBackend(cmd.Context(), loc, true)
			if err != nil {
				return err
			}
			defer be.Close()
			opt := repo.Options{Password: pw}
			if cheapKDF {
				k := repo.TestKDF
				opt.KDF = &k
			} else {
				k := crypto.DefaultKDF
				opt.KDF = &k
			}
			if err := repo.Init(ctx, be, opt); err != nil {
				return err
			}
			cfg, err := repo.ReadConfig(ctx, be)
			if err != nil {
				return err
			}
			if g.json {
				printJSON(map[string]any{"message_type": "initialized", "id": cfg.ID, "repository": be.Location()})
			} else if !g.quiet {
				fmt.Fprintf(stdout, "created cairn repository %s at %s\n", cfg.ID[:10], be.Location())
				fmt.Fprintln(stdout, "Keep the password safe: without it the data cannot be read.")
			}
			return nil
		},
	}
	// For tests only: a weak key derivation makes each command start fast.
	cmd.Flags().BoolVar(&cheapKDF, "insecure-kdf", false, "use a cheap key derivation (tests only)")
	cmd.Flags().MarkHidden("insecure-kdf")
	return cmd
}
