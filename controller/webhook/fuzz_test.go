package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The fuzz targets send one request, built from the fuzzer's input, to a
// provider's route and check what must hold whatever the input: no panic,
// a known status, a trigger only for an authentic push, never a 401 for a
// request signed with the secret, the body unread when the headers alone
// are refused, and the secret never in the answer or the log.
//
// Each target's input is the signature (or token) header's value, the
// event, the Content-Type, the body, and whether to sign the body with the
// secret instead of sending the given signature. Seeds are in
// testdata/fuzz/FuzzXxx.

// fuzzHost is how one provider's request is built.
type fuzzHost struct {
	path string
	// headers sets the signature (the given one, or the right one when
	// signIt) and the event; it returns the body to send.
	headers func(h http.Header, sig, event, contentType string, body []byte, signIt bool) []byte
}

func fuzzDelivery(t *testing.T, fh fuzzHost, sig, event, contentType string, body []byte, signIt bool) {
	h, rec, logs := newHandler(t, allOn())
	hdr := http.Header{}
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	}
	sent := fh.headers(hdr, sig, event, contentType, body, signIt)
	counted := &countingBody{r: bytes.NewReader(sent)}
	req := httptest.NewRequest(http.MethodPost, "/hooks/"+fh.path, counted)
	req.Header = hdr
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)

	answer := w.Body.String()
	switch w.Code {
	case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("status %d %q", w.Code, answer)
	}
	if signIt && w.Code == http.StatusUnauthorized {
		t.Fatalf("a request signed with the secret was refused: %q", answer)
	}
	if !signIt && w.Code != http.StatusUnauthorized && w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a request not signed with the secret was answered %d %q", w.Code, answer)
	}
	if triggers := rec.count(); (w.Code == http.StatusAccepted) != (triggers == 1) || triggers > 1 {
		t.Fatalf("status %d with %d triggers", w.Code, triggers)
	}
	if (strings.Contains(answer, "no signature") || strings.Contains(answer, "malformed")) && counted.reads.Load() != 0 {
		t.Fatalf("the body was read before %q", answer)
	}
	if strings.Contains(answer, secret) || strings.Contains(logs.String(), secret) {
		t.Fatal("the secret reached the answer or the log")
	}
}

func addFuzz(f *testing.F, fh fuzzHost) {
	f.Fuzz(func(t *testing.T, sig, event, contentType string, body []byte, signIt bool) {
		fuzzDelivery(t, fh, sig, event, contentType, body, signIt)
	})
}

func FuzzGitHub(f *testing.F) {
	addFuzz(f, fuzzHost{path: "github", headers: func(h http.Header, sig, event, _ string, body []byte, signIt bool) []byte {
		if signIt {
			sig = "sha256=" + hexHMAC(secret, body)
		}
		h.Set("X-Hub-Signature-256", sig)
		h.Set("X-GitHub-Event", event)
		return body
	}})
}

// FuzzGitea's body is the JSON payload; with a form Content-Type it is
// sent as payload=…, and Gitea signs the payload, not the form.
func FuzzGitea(f *testing.F) {
	addFuzz(f, fuzzHost{path: "gitea", headers: func(h http.Header, sig, event, contentType string, body []byte, signIt bool) []byte {
		if signIt {
			sig = hexHMAC(secret, body)
		}
		h.Set("X-Gitea-Signature", sig)
		h.Set("X-Gitea-Event", event)
		if isForm(contentType) {
			return []byte("payload=" + url.QueryEscape(string(body)))
		}
		return body
	}})
}

func FuzzGitLab(f *testing.F) {
	addFuzz(f, fuzzHost{path: "gitlab", headers: func(h http.Header, tok, event, _ string, body []byte, signIt bool) []byte {
		if signIt {
			tok = secret
		} else if tok == secret {
			tok += "x"
		}
		h.Set("X-Gitlab-Token", tok)
		h.Set("X-Gitlab-Event", event)
		return body
	}})
}

func FuzzBitbucket(f *testing.F) {
	addFuzz(f, fuzzHost{path: "bitbucket", headers: func(h http.Header, sig, event, _ string, body []byte, signIt bool) []byte {
		if signIt {
			sig = "sha256=" + hexHMAC(secret, body)
		}
		h.Set("X-Hub-Signature", sig)
		h.Set("X-Event-Key", event)
		return body
	}})
}

func FuzzGeneric(f *testing.F) {
	addFuzz(f, fuzzHost{path: "generic", headers: func(h http.Header, sig, _, _ string, body []byte, signIt bool) []byte {
		if signIt {
			sig = "sha256=" + hexHMAC(secret, body)
		}
		h.Set("X-Signature", sig)
		return body
	}})
}
