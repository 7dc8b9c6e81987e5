package observer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NameLister reads one page of the names of a namespace's Deployments: at most limit names, from the page that
// cont (empty for the first) continues, and the continue token of the next page (empty after the last).
type NameLister interface {
	DeploymentNames(ctx context.Context, namespace string, limit int64, cont string) (names []string, next string, err error)
}

// TableNames lists names as the API server's Table without objects, as kubectl get does: a row of a few printed
// columns per Deployment, where a metadata list carries each one's labels, annotations and managed fields for
// the operator to decode and hold and for the API server to encode (3 Deployments in the envtest: 4.4 KB as a
// Table in two pages, most of it the column definitions, against 30.5 KB as metadata).
type TableNames struct {
	// REST is a client of the apps/v1 API (NewTableNames).
	REST rest.Interface
}

// NewTableNames builds a TableNames on the operator's connection to the API server.
func NewTableNames(cfg *rest.Config, httpClient *http.Client) (*TableNames, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &appsv1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.ContentType = "application/json"
	c.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientForConfigAndClient(c, httpClient)
	if err != nil {
		return nil, fmt.Errorf("building the apps/v1 client that lists Deployment names: %w", err)
	}
	return &TableNames{REST: rc}, nil
}

// tableAccept asks for the Table form of a list (meta.k8s.io/v1).
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io"

// DeploymentNames implements NameLister.
func (t *TableNames) DeploymentNames(ctx context.Context, namespace string, limit int64, cont string) ([]string, string, error) {
	req := t.REST.Get().Namespace(namespace).Resource("deployments").
		SetHeader("Accept", tableAccept).
		Param("includeObject", string(metav1.IncludeNone)).
		Param("limit", strconv.FormatInt(limit, 10))
	if cont != "" {
		req = req.Param("continue", cont)
	}
	raw, err := req.DoRaw(ctx)
	if err != nil {
		return nil, "", err
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		return nil, "", fmt.Errorf("decoding the Table of Deployments: %w", err)
	}
	if table.Kind != "Table" {
		return nil, "", fmt.Errorf("the API server answered %q to a request for a Table of Deployments", table.Kind)
	}
	column := nameColumn(table.ColumnDefinitions)
	if column < 0 {
		return nil, "", fmt.Errorf("the Table of Deployments has no name column")
	}
	names := make([]string, 0, len(table.Rows))
	for _, row := range table.Rows {
		if column >= len(row.Cells) {
			return nil, "", fmt.Errorf("a row of the Table of Deployments has %d cells, the name is cell %d", len(row.Cells), column)
		}
		name, ok := row.Cells[column].(string)
		if !ok {
			return nil, "", fmt.Errorf("a row of the Table of Deployments has a name that is not a string: %v", row.Cells[column])
		}
		names = append(names, name)
	}
	return names, table.Continue, nil
}

// nameColumn is the column holding the object's name: the one formatted as a name (the first, in the API
// server's own tables).
func nameColumn(cols []metav1.TableColumnDefinition) int {
	for i, c := range cols {
		if c.Format == "name" {
			return i
		}
	}
	return -1
}

// MetadataNames lists names from a metadata list, for clients that cannot ask for a Table (fake clients in
// tests).
type MetadataNames struct {
	Reader client.Reader
}

// DeploymentNames implements NameLister.
func (m MetadataNames) DeploymentNames(ctx context.Context, namespace string, limit int64, cont string) ([]string, string, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("DeploymentList"))
	if err := m.Reader.List(ctx, list, client.InNamespace(namespace), client.Limit(limit), client.Continue(cont)); err != nil {
		return nil, "", err
	}
	names := make([]string, len(list.Items))
	for i := range list.Items {
		names[i] = list.Items[i].Name
	}
	return names, list.Continue, nil
}
