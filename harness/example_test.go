package harness_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/etcdchaos/etcdchaos/harness"
)

// Start a 3-member cluster, isolate member 1 from the other two, watch the
// majority keep working while member 1 cannot commit, then heal.
func Example() {
	ctx := context.Background()
	c, err := harness.Start(ctx, harness.Config{Members: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	c1, err := c.NewClient(1)
	if err != nil {
		log.Fatal(err)
	}
	c2, err := c.NewClient(2)
	if err != nil {
		log.Fatal(err)
	}

	if err := c.Partition([]int{1}, []int{2, 3}); err != nil {
		log.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = c1.Put(tctx, "k", "minority")
	cancel()
	fmt.Println("write through isolated member 1 failed:", err != nil)

	// The majority elects a leader among 2 and 3 if needed, then commits;
	// writes fail while the election runs, so retry for a while.
	err = retry(ctx, func(ctx context.Context) error {
		_, err := c2.Put(ctx, "k", "majority")
		return err
	})
	fmt.Println("write through member 2 failed:", err != nil)

	if err := c.Heal(); err != nil {
		log.Fatal(err)
	}
	// After the heal member 1 catches up.
	var value string
	_ = retry(ctx, func(ctx context.Context) error {
		resp, err := c1.Get(ctx, "k")
		if err == nil && len(resp.Kvs) == 1 {
			value = string(resp.Kvs[0].Value)
		}
		if value != "majority" {
			return fmt.Errorf("member 1 reads %q", value)
		}
		return nil
	})
	fmt.Println("member 1 reads:", value)
	// Output:
	// write through isolated member 1 failed: true
	// write through member 2 failed: false
	// member 1 reads: majority
}

// retry calls op, with a second for each try, until it succeeds or ten
// seconds have passed, and returns its last error.
func retry(ctx context.Context, op func(context.Context) error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		err := op(tctx)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
