package budget

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bomb is the classic billion laughs: levels of ten aliases of the level
// below.
func bomb(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func wantBudget(t *testing.T, err error, budget string) {
	t.Helper()
	var be *Error
	if !errors.As(err, &be) || be.Budget != budget {
		t.Fatalf("error = %v, want the %q budget", err, budget)
	}
	if !strings.Contains(err.Error(), "compose.yaml") || !strings.Contains(err.Error(), budget) {
		t.Fatalf("error %q does not name the file and the budget", err)
	}
}

func TestCheckRefusesAliasBomb(t *testing.T) {
	start := time.Now()
	err := Check("compose.yaml", []byte(bomb(10)), Compose)
	wantBudget(t, err, "expanded nodes")
	t.Logf("refused a 10-level bomb in %v", time.Since(start))
}

func TestCheckCountsMergeKeysAndAliases(t *testing.T) {
	// 4 levels of ten aliases of 11 nodes: within 100k nodes; 5 levels are not.
	if err := Check("compose.yaml", []byte(bomb(4)), Compose); err != nil {
		t.Fatalf("4 levels: %v", err)
	}
	wantBudget(t, Check("compose.yaml", []byte(bomb(5)), Compose), "expanded nodes")
	merge := "base: &b {x: 1, y: 2}\n"
	for i := 0; i < 20; i++ {
		merge += fmt.Sprintf("s%d: {<<: *b, z: %d}\n", i, i)
	}
	small := Compose
	small.Nodes = 100
	wantBudget(t, Check("compose.yaml", []byte(merge), small), "expanded nodes")
	small.Nodes = 250
	if err := Check("compose.yaml", []byte(merge), small); err != nil {
		t.Fatalf("20 merges within 250 nodes: %v", err)
	}
}

func TestCheckRefusesDepth(t *testing.T) {
	deep := strings.Repeat("[", 101) + strings.Repeat("]", 101)
	wantBudget(t, Check("compose.yaml", []byte(deep), Compose), "depth")
	ok := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if err := Check("compose.yaml", []byte(ok), Compose); err != nil {
		t.Fatalf("depth 100: %v", err)
	}
	// Depth counts after expansion: an alias of a deep node nests it again.
	viaAlias := "a: &a " + strings.Repeat("[", 60) + strings.Repeat("]", 60) + "\nb: [[[[" + strings.Repeat("[", 40) + "*a" + strings.Repeat("]", 44) + "\n"
	wantBudget(t, Check("compose.yaml", []byte(viaAlias), Compose), "depth")
}

func TestCheckRefusesDocuments(t *testing.T) {
	two := "a: 1\n---\nb: 2\n"
	wantBudget(t, Check("compose.yaml", []byte(two), Compose), "documents")
	if err := Check("compose.yaml", []byte(two), Data); err != nil {
		t.Fatalf("two documents as data: %v", err)
	}
}

func TestCheckCountsEveryDocument(t *testing.T) {
	// The bomb is in the second document: each is walked.
	stream := "sops: {}\n---\n" + bomb(10)
	wantBudget(t, Check("compose.yaml", []byte(stream), Data), "expanded nodes")
	// The documents' nodes add up.
	small := Data
	small.Nodes = 10
	wantBudget(t, Check("compose.yaml", []byte("[1, 2, 3, 4]\n---\n[1, 2, 3, 4]\n---\n[1, 2]\n"), small), "expanded nodes")
}

func TestCheckRefusesBytes(t *testing.T) {
	big := "a: " + strings.Repeat("x", 1<<20) + "\n"
	wantBudget(t, Check("compose.yaml", []byte(big), Compose), "bytes")
}

func TestCheckRefusesSelfReference(t *testing.T) {
	err := Check("compose.yaml", []byte("a: &a [*a]\n"), Compose)
	if err == nil || !strings.Contains(err.Error(), "compose.yaml") {
		t.Fatalf("error = %v, want a refusal naming the file", err)
	}
}

func TestCheckNeverShowsContent(t *testing.T) {
	err := Check("compose.yaml", []byte("password: &p [hunter2-secret]\nb: "+strings.Repeat("[", 200)+strings.Repeat("]", 200)), Compose)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error = %v", err)
	}
}

func TestReadFileRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/zero", fifo, dir} {
		if _, err := ReadFile("app.env", p, 1<<20); !errors.Is(err, ErrNotRegular) {
			t.Errorf("%s: error = %v, want not a regular file", p, err)
		}
	}
}

func TestReadFileRefusesTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(p, make([]byte, 1001), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile("app.env", p, 1000); !IsError(err) {
		t.Fatalf("error = %v, want the bytes budget", err)
	}
	data, err := ReadFile("app.env", p, 1001)
	if err != nil || len(data) != 1001 {
		t.Fatalf("read %d bytes, %v", len(data), err)
	}
}

func TestReadYAMLChecks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(bomb(10)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadYAML("compose.yaml", p, Compose)
	wantBudget(t, err, "expanded nodes")
}

func BenchmarkCheckBomb(b *testing.B) {
	data := []byte(bomb(10))
	for b.Loop() {
		if err := Check("compose.yaml", data, Compose); err == nil {
			b.Fatal("bomb passed")
		}
	}
}
