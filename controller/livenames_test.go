package controller

import (
	"context"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/konsumerator/konsumerator/internal/builder"
	"github.com/konsumerator/konsumerator/internal/testenv"
	"github.com/konsumerator/konsumerator/observer"
)

// The names of a namespace's Deployments come as the API server's Table without objects, page by page, and
// cost a small part of what the same page of metadata costs (labels, annotations and managed fields of each).
func TestDeploymentNamesAreReadAsATableInPages(t *testing.T) {
	ns := namespace(t, "names")
	want := []string{"a", "b", "c"}
	for _, name := range want {
		d := builder.Deployment(name).Namespace(ns).Obj()
		d.UID, d.ResourceVersion, d.Generation = "", "", 0
		d.Annotations = map[string]string{"team": "payments", "note": "a stranger's Deployment, with its annotations"}
		require.NoError(t, env.Client.Create(context.Background(), d))
	}

	cfg, received := testenv.CountingBytes(env.Config)
	httpClient, err := rest.HTTPClientFor(cfg)
	require.NoError(t, err)
	tables, err := observer.NewTableNames(cfg, httpClient)
	require.NoError(t, err)

	var got []string
	page, next, err := tables.DeploymentNames(context.Background(), ns, 2, "")
	require.NoError(t, err)
	assert.Len(t, page, 2, "the first page holds as many names as asked for")
	require.NotEmpty(t, next, "a namespace larger than the page says where to continue")
	got = append(got, page...)
	page, next, err = tables.DeploymentNames(context.Background(), ns, 2, next)
	require.NoError(t, err)
	assert.Empty(t, next, "the last page")
	got = append(got, page...)
	sort.Strings(got)
	assert.Equal(t, want, got)
	tableBytes := received.Swap(0)

	// As the operator's live reader (the manager's API reader) lists them.
	live, err := client.New(cfg, client.Options{Scheme: env.Scheme, HTTPClient: httpClient})
	require.NoError(t, err)
	metadata := observer.MetadataNames{Reader: live}
	all, next, err := metadata.DeploymentNames(context.Background(), ns, 10, "")
	require.NoError(t, err)
	sort.Strings(all)
	assert.Equal(t, want, all, "both listers read the same names")
	assert.Empty(t, next)
	metadataBytes := received.Load()
	t.Logf("names of 3 Deployments: %d bytes as a Table in two pages, %d as metadata", tableBytes, metadataBytes)
	assert.Less(t, 3*tableBytes, metadataBytes, "a Table of names (%d bytes in two pages) costs a small part of the same names as metadata (%d bytes)", tableBytes, metadataBytes)
}
