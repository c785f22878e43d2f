package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// provider is one Git host's scheme: how a request is signed, what its
// event and delivery headers are, and where a push names its ref.
type provider struct {
	name   string
	secret []byte
	// signature reads the signature (or token) from the headers alone and
	// checks its form, so that a request without a well-formed one is
	// refused before a byte of its body is read.
	signature func(h http.Header) ([]byte, error)
	// verify checks sig, as signature returned it, against the body.
	verify func(h http.Header, sig, body []byte) error
	// event and delivery read the headers; either may be "".
	event, delivery func(h http.Header) string
	isPing          func(event string) bool
	// refs returns the refs a push updates; push is false for other events.
	refs func(event, contentType string, body []byte) (refs []string, push bool, err error)
}

// Rejections; their text goes into the 401 answer and the log line.
var (
	errMissing   = errors.New("no signature")
	errMalformed = errors.New("malformed signature: want 64 hex digits of HMAC-SHA256")
	errBad       = errors.New("signature does not match")
	errSHA1Only  = errors.New("only a SHA-1 signature: a sha256 signature is required")
	errToken     = errors.New("token does not match")
)

func providers(c Config) []*provider {
	never := func(string) bool { return false }
	return []*provider{
		{
			name: "github", secret: c.GitHubSecret,
			signature: func(h http.Header) ([]byte, error) {
				if sig := h.Get("X-Hub-Signature-256"); sig != "" {
					return prefixed(sig)
				}
				return nil, missingOrSHA1(h.Get("X-Hub-Signature"))
			},
			verify:   func(_ http.Header, sig, body []byte) error { return checkMAC(c.GitHubSecret, body, sig) },
			event:    header("X-GitHub-Event"),
			delivery: header("X-GitHub-Delivery"),
			isPing:   func(e string) bool { return e == "ping" },
			refs:     pushRef("push"),
		},
		{
			name: "gitea", secret: c.GiteaSecret,
			signature: giteaSignature,
			verify:    func(h http.Header, sig, body []byte) error { return verifyGitea(c.GiteaSecret, h, sig, body) },
			event:     header("X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event", "X-GitHub-Event"),
			delivery:  header("X-Gitea-Delivery", "X-Forgejo-Delivery", "X-Gogs-Delivery", "X-GitHub-Delivery"),
			isPing:    never, // Gitea and Forgejo have no ping; "Test delivery" sends a push
			refs:      pushRef("push"),
		},
		{
			name: "gitlab", secret: c.GitLabToken,
			signature: func(h http.Header) ([]byte, error) {
				tok := h.Get("X-Gitlab-Token")
				if tok == "" {
					return nil, errMissing
				}
				return []byte(tok), nil
			},
			verify: func(_ http.Header, tok, _ []byte) error {
				// Hashing first makes the comparison take the same time
				// whatever the lengths.
				a, b := sha256.Sum256(tok), sha256.Sum256(c.GitLabToken)
				if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
					return errToken
				}
				return nil
			},
			event:    header("X-Gitlab-Event"),
			delivery: header("X-Gitlab-Event-UUID"),
			isPing:   never, // "Test" sends a sample push
			refs:     gitlabRefs,
		},
		{
			name: "bitbucket", secret: c.BitbucketSecret,
			signature: func(h http.Header) ([]byte, error) { return prefixed(h.Get("X-Hub-Signature")) },
			verify:    func(_ http.Header, sig, body []byte) error { return checkMAC(c.BitbucketSecret, body, sig) },
			event:     header("X-Event-Key"),
			// X-Request-UUID (Cloud) and X-Request-Id (Data Center) name the
			// delivery; X-Hook-UUID names the webhook, the same for every
			// delivery, so it must not be used.
			delivery: header("X-Request-UUID", "X-Request-Id"),
			isPing:   func(e string) bool { return e == "diagnostics:ping" },
			refs:     bitbucketRefs,
		},
		{
			name: "generic", secret: c.GenericSecret,
			signature: func(h http.Header) ([]byte, error) { return prefixed(h.Get("X-Signature")) },
			verify:    func(_ http.Header, sig, body []byte) error { return checkMAC(c.GenericSecret, body, sig) },
			event:     func(http.Header) string { return "push" },
			delivery:  header("X-Delivery"),
			isPing:    never,
			refs:      genericRefs,
		},
	}
}

// header returns the first of the named headers that is set.
func header(names ...string) func(http.Header) string {
	return func(h http.Header) string {
		for _, n := range names {
			if v := h.Get(n); v != "" {
				return v
			}
		}
		return ""
	}
}

// prefixed decodes a "sha256=<hex>" signature.
func prefixed(sig string) ([]byte, error) {
	if sig == "" {
		return nil, errMissing
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return nil, missingOrSHA1(sig)
	}
	return decodeMAC(hexSig)
}

// missingOrSHA1 tells a request with no signature from one signed with
// SHA-1 only, which is refused.
func missingOrSHA1(sig string) error {
	switch {
	case sig == "":
		return errMissing
	case strings.HasPrefix(sig, "sha1="):
		return errSHA1Only
	}
	return errMalformed
}

// decodeMAC decodes the hex of an HMAC-SHA256: 64 digits, either case.
func decodeMAC(hexSig string) ([]byte, error) {
	if len(hexSig) != 2*sha256.Size {
		return nil, errMalformed
	}
	mac, err := hex.DecodeString(hexSig)
	if err != nil {
		return nil, errMalformed
	}
	return mac, nil
}

// checkMAC compares mac with the HMAC-SHA256 of body in constant time.
func checkMAC(secret, body, mac []byte) error {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return errBad
	}
	return nil
}

// giteaSignature reads the first of the SHA-256 signatures Gitea and
// Forgejo send.
func giteaSignature(h http.Header) ([]byte, error) {
	for _, name := range []string{"X-Gitea-Signature", "X-Forgejo-Signature"} {
		if sig := h.Get(name); sig != "" {
			return decodeMAC(sig)
		}
	}
	if sig := h.Get("X-Hub-Signature-256"); sig != "" {
		return prefixed(sig)
	}
	return nil, missingOrSHA1(h.Get("X-Hub-Signature"))
}

// verifyGitea checks a Gitea or Forgejo signature. They sign the JSON
// payload itself, also when it is sent form-encoded (payload=…), where
// GitHub signs the raw body.
func verifyGitea(secret []byte, h http.Header, sig, body []byte) error {
	signed := body
	if isForm(h.Get("Content-Type")) {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return errBad
		}
		signed = []byte(v.Get("payload"))
	}
	return checkMAC(secret, signed, sig)
}

func isForm(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/x-www-form-urlencoded"
}

// jsonPayload is the JSON of a delivery, unwrapped from payload=… when the
// hook is set to send a form.
func jsonPayload(contentType string, body []byte) ([]byte, error) {
	if !isForm(contentType) {
		return body, nil
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("form body: %w", err)
	}
	return []byte(v.Get("payload")), nil
}

// pushRef reads {"ref": …} from the named push event (GitHub, Gitea).
func pushRef(pushEvent string) func(event, contentType string, body []byte) ([]string, bool, error) {
	return func(event, contentType string, body []byte) ([]string, bool, error) {
		if event != pushEvent {
			return nil, false, nil
		}
		js, err := jsonPayload(contentType, body)
		if err != nil {
			return nil, true, err
		}
		var p struct {
			Ref string `json:"ref"`
		}
		if err := json.Unmarshal(js, &p); err != nil || p.Ref == "" {
			return nil, true, errors.New("push payload has no ref")
		}
		return []string{p.Ref}, true, nil
	}
}

// gitlabRefs reads push and tag push events, of project and system hooks.
func gitlabRefs(_, _ string, body []byte) ([]string, bool, error) {
	var p struct {
		ObjectKind string `json:"object_kind"`
		EventName  string `json:"event_name"`
		Ref        string `json:"ref"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, false, errors.New("payload is not JSON")
	}
	kind := p.ObjectKind
	if kind == "" {
		kind = p.EventName
	}
	if kind != "push" && kind != "tag_push" {
		return nil, false, nil
	}
	if p.Ref == "" {
		return nil, true, errors.New("push payload has no ref")
	}
	return []string{p.Ref}, true, nil
}

// bitbucketRefs reads Bitbucket Cloud's repo:push (push.changes[].new) and
// Data Center's repo:refs_changed (changes[].ref.id).
func bitbucketRefs(event, _ string, body []byte) ([]string, bool, error) {
	if event != "repo:push" && event != "repo:refs_changed" {
		return nil, false, nil
	}
	var p struct {
		Push struct {
			Changes []struct {
				New *struct{ Type, Name string } `json:"new"`
			} `json:"changes"`
		} `json:"push"`
		Changes []struct {
			Ref struct {
				ID string `json:"id"`
			} `json:"ref"`
		} `json:"changes"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, true, errors.New("push payload is not JSON")
	}
	var refs []string
	for _, c := range p.Push.Changes {
		switch {
		case c.New == nil: // a deleted branch
		case c.New.Type == "branch":
			refs = append(refs, "refs/heads/"+c.New.Name)
		case c.New.Type == "tag":
			refs = append(refs, "refs/tags/"+c.New.Name)
		}
	}
	for _, c := range p.Changes {
		if c.Ref.ID != "" {
			refs = append(refs, c.Ref.ID)
		}
	}
	if len(refs) == 0 {
		// Only deletions: nothing berth could fetch. A non-nil empty list
		// matches no ref.
		return []string{"(deleted)"}, true, nil
	}
	return refs, true, nil
}

// genericRefs reads an optional {"ref": …}; an empty body or no ref means
// "the followed ref".
func genericRefs(_, _ string, body []byte) ([]string, bool, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, true, nil
	}
	var p struct {
		Ref string `json:"ref"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, true, errors.New("payload is not JSON")
	}
	if p.Ref == "" {
		return nil, true, nil
	}
	return []string{p.Ref}, true, nil
}
