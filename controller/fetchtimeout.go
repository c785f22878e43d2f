package controller

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// withFetchTimeout runs a clone or fetch under the fetch timeout. When the
// timeout (and not the end of berth) cut it off, the error says so, naming
// the timeout: a remote that accepts the connection and then says nothing
// would otherwise hold the loop, drift correction included, for ever.
func withFetchTimeout[T any](ctx context.Context, d time.Duration, f func(context.Context) (T, error)) (T, error) {
	if d <= 0 {
		return f(ctx)
	}
	fctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := f(fctx)
	if err != nil && ctx.Err() == nil && errors.Is(fctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within the fetch timeout (%s): %w", d, err)
	}
	return v, err
}
