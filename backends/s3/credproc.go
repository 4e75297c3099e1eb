package s3

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/ini.v1"
)

// errBareCredentialProcess is minio-go's answer to a profile whose
// credential_process is a command without arguments, which it refuses,
// although the AWS CLI and SDKs run it ("credential_process =
// /usr/local/bin/get-keys").
const errBareCredentialProcess = "invalid credential process args"

// bareCredentialProcess runs the credential_process of the profile
// AWS_PROFILE (or "default") that minio-go refused for having no
// arguments, and returns its keys.
func bareCredentialProcess() (credentials.Value, error) {
	command := profileCredentialProcess()
	if command == "" || len(strings.Fields(command)) != 1 {
		return credentials.Value{}, errors.New(errBareCredentialProcess)
	}
	out, err := exec.Command(command).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return credentials.Value{}, fmt.Errorf("credential_process %s: %v: %s", command, err, strings.TrimSpace(string(ee.Stderr)))
		}
		return credentials.Value{}, fmt.Errorf("credential_process %s: %v", command, err)
	}
	var keys struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      time.Time
	}
	if err := json.Unmarshal(out, &keys); err != nil {
		return credentials.Value{}, fmt.Errorf("credential_process %s: %v", command, err)
	}
	return credentials.Value{
		AccessKeyID:     keys.AccessKeyID,
		SecretAccessKey: keys.SecretAccessKey,
		SessionToken:    keys.SessionToken,
		Expiration:      keys.Expiration,
		SignerType:      credentials.SignatureV4,
	}, nil
}

// profileCredentialProcess is the credential_process of the profile
// AWS_PROFILE (or "default").
func profileCredentialProcess() string {
	return profileSetting("credential_process")
}

// profileSetting is the setting key of the profile AWS_PROFILE (or
// "default") in the shared credentials file, which overrides the config
// file, as minio-go and the AWS SDK merge them; "" when neither has it.
func profileSetting(key string) string {
	profile := os.Getenv("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	home, _ := os.UserHomeDir()
	files := []string{os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), os.Getenv("AWS_CONFIG_FILE")}
	if files[0] == "" && home != "" {
		files[0] = filepath.Join(home, ".aws", "credentials")
	}
	if files[1] == "" && home != "" {
		files[1] = filepath.Join(home, ".aws", "config")
	}
	for i, name := range files {
		if name == "" {
			continue
		}
		f, err := ini.Load(name)
		if err != nil {
			continue
		}
		sections := []string{profile}
		if i == 1 && profile != "default" {
			sections = []string{"profile " + profile, profile}
		}
		for _, s := range sections {
			if sec, err := f.GetSection(s); err == nil && sec.HasKey(key) {
				return strings.TrimSpace(sec.Key(key).String())
			}
		}
	}
	return ""
}
