package gitsource

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// authMethod maps Auth onto what go-git wants for the URL's protocol.
// file:// URLs, local paths and git:// need none; http(s) without Auth
// falls back to credentials embedded in the URL.
func authMethod(rawURL string, a Auth) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse URL %s: %w", Redact(rawURL), newScrubber(rawURL, a).wrap(err))
	}
	switch ep.Protocol {
	case "http", "https":
		return httpAuth(a), nil
	case "ssh":
		return sshAuth(rawURL, ep, a)
	}
	return nil, nil
}

func httpAuth(a Auth) transport.AuthMethod {
	switch {
	case a.Token != "":
		user := a.Username
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: a.Token}
	case a.Username != "" || a.Password != "":
		return &githttp.BasicAuth{Username: a.Username, Password: a.Password}
	}
	return nil
}

// sshAuth builds public-key auth whose host key check is strict: the host
// must be in Auth.KnownHostsFile with the key it shows. There is no
// fallback to accepting unknown hosts.
func sshAuth(rawURL string, ep *transport.Endpoint, a Auth) (transport.AuthMethod, error) {
	where := Redact(rawURL)
	if a.KnownHostsFile == "" {
		return nil, fmt.Errorf("%s: an ssh URL needs a known_hosts file (Auth.KnownHostsFile); unknown host keys are never accepted", where)
	}
	if _, err := os.Stat(a.KnownHostsFile); err != nil {
		return nil, fmt.Errorf("%s: known_hosts file: %w", where, err)
	}
	if a.SSHKeyFile == "" {
		return nil, fmt.Errorf("%s: an ssh URL needs a private key (Auth.SSHKeyFile)", where)
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	keys, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, a.SSHKeyPassword)
	if err != nil {
		return nil, fmt.Errorf("read ssh key %s: %w", a.SSHKeyFile, err)
	}
	// go-git's database (skeema/knownhosts over x/crypto's knownhosts) also
	// tells which host key algorithms to ask for, so a host listed only
	// with its ed25519 key is not refused for offering RSA first.
	db, err := gitssh.NewKnownHostsDb(a.KnownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts file %s: %w", a.KnownHostsFile, err)
	}
	port := ep.Port
	if port == 0 {
		port = 22
	}
	keys.HostKeyCallback = strictHostKey(a.KnownHostsFile, db.HostKeyCallback())
	keys.HostKeyAlgorithms = db.HostKeyAlgorithms(net.JoinHostPort(ep.Host, strconv.Itoa(port)))
	return keys, nil
}

// strictHostKey turns knownhosts' terse errors into a HostKeyError.
func strictHostKey(file string, check ssh.HostKeyCallback) ssh.HostKeyCallback {
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := check(host, remote, key)
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			return err
		}
		return &HostKeyError{
			Host:        knownhosts.Normalize(host),
			File:        file,
			Fingerprint: key.Type() + " " + ssh.FingerprintSHA256(key),
			Changed:     len(ke.Want) > 0,
		}
	}
}
