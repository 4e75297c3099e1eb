package s3

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRegionOrder: the region is the one the AWS CLI would use: Options,
// then AWS_REGION over AWS_DEFAULT_REGION, then the region of the profile
// AWS_PROFILE (or "default") in the shared files, the credentials file's
// over the config file's; us-east-1 only when none gives one. A user whose
// ~/.aws/config says "region = eu-west-3" was sent to us-east-1 and told
// to set a variable.
func TestRegionOrder(t *testing.T) {
	dir := t.TempDir()
	credsFile, configFile := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	if err := os.WriteFile(configFile, []byte("[default]\nregion = eu-west-1\n[profile backup]\nregion = eu-west-3\n[profile creds]\nregion = ap-south-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(credsFile, []byte("[creds]\nregion = sa-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credsFile)
	t.Setenv("AWS_CONFIG_FILE", configFile)
	for _, c := range []struct {
		option, region, defaultRegion, profile string
		want                                   string
	}{
		{want: "eu-west-1"},
		{profile: "backup", want: "eu-west-3"},
		{profile: "creds", want: "sa-east-1"},
		{profile: "nothing", want: DefaultRegion},
		{profile: "backup", defaultRegion: "us-west-2", want: "us-west-2"},
		{profile: "backup", defaultRegion: "us-west-2", region: "ca-central-1", want: "ca-central-1"},
		{profile: "backup", region: "ca-central-1", option: "eu-north-1", want: "eu-north-1"},
	} {
		t.Setenv("AWS_REGION", c.region)
		t.Setenv("AWS_DEFAULT_REGION", c.defaultRegion)
		t.Setenv("AWS_PROFILE", c.profile)
		if got := (Options{AccessKey: "a", SecretKey: "b", Region: c.option}).withDefaults().Region; got != c.want {
			t.Errorf("%+v: region %q, want %q", c, got, c.want)
		}
	}
}
