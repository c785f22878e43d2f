package config

import "testing"

// FuzzParse: any settings file parses or fails with an error, without a
// panic. (Validate opens the files the settings name, so it is left out.)
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"repo: https://git.example.com/infra.git\nbranch: main\npoll: 30s\n",
		"repo: x\nbranch: a\ntag: b\n", "poll: -1s\n", "unknown: 1\n", "policy:\n  profile: restricted\n",
		"webhooks:\n  - provider: github\n    secret_file: /etc/berth/hook\n", "[]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := Parse(data); err == nil {
			c.fillHost()
		}
	})
}
