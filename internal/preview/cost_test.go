package preview_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/preview"
)

func TestAStackInARegionWithoutPricesIsNotPriced(t *testing.T) {
	r := report(t, "staging", map[string]string{"aws:region": "us-east-1"})
	assert.False(t, r.Cost.Priced)
	assert.Equal(t, "us-east-1", r.Cost.Region)
	var text bytes.Buffer
	require.NoError(t, r.WriteText(&text))
	assert.Contains(t, text.String(), "Estimated monthly cost: not priced. The price table holds ap-southeast-1 "+
		"list prices only")
	assert.Contains(t, text.String(), "the stack is in us-east-1, for which no list prices from a citable AWS "+
		"source were recorded")
	assert.Contains(t, text.String(), "add them with their source to internal/preview/cost.go")
	assert.NotContains(t, text.String(), "0.00 USD", "no total of zero for a region the table does not price")
}

func TestAnOldPriceTableSaysSo(t *testing.T) {
	asOf := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	assert.Empty(t, preview.StaleNote("2025-06", asOf.AddDate(0, 5, 0)), "five months old")
	assert.Contains(t, preview.StaleNote("2025-06", asOf.AddDate(0, 7, 0)),
		"the prices are from 2025-06, more than 6 months ago")
	assert.Contains(t, preview.StaleNote("June 2025", asOf), "is not a month")

	r := report(t, "staging", nil)
	require.True(t, r.Cost.Priced)
	assert.Equal(t, preview.StaleNote(preview.PricesAsOf, time.Now()), r.Cost.Stale)
}
