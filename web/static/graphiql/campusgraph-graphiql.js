/* Starts CampusGraph's GraphiQL. This is Strawberry's page script (without js-cookie: there is
 * no CSRF cookie here), moved out of the page so that the page can carry a strict
 * Content-Security-Policy, with a fetcher that signs subscriptions in.
 *
 * Queries and mutations go over HTTP with the Headers pane as HTTP headers. Subscriptions go over
 * a WebSocket (graphql-transport-ws), which has no headers: the server reads the access token
 * from connection_init's payload. GraphiQL's own fetcher (createFetcher with a subscriptionUrl)
 * sends its `headers` option as that payload; ours gives it just the Authorization header's
 * token, as {"accessToken": ...}, and refuses at once (instead of retrying for a minute against
 * the server's 4403) when there is none.
 */
(function () {
  "use strict";

  const EXAMPLE_QUERY = `# Welcome to CampusGraph's GraphiQL
#
# Sign in first:
#
#     mutation { login(input: {email: "teacher@northside.test", password: "campus-demo"}) {
#       accessToken userErrors { code message } } }
#
# then put the access token in the Headers pane below:
#
#     {"Authorization": "Bearer <accessToken>"}
#
# Queries and mutations send it as an HTTP header; subscriptions send it in the WebSocket's
# connection_init.
#
# Keyboard shortcuts:
#
#       Run Query:  Ctrl-Enter (or press the play button above)
#
#   Auto Complete:  Ctrl-Space (or just start typing)
#
`;

  // URL parameters, for sharing queries (q, variables, headers), as Strawberry's page has them.
  const parameters = {};
  for (const entry of window.location.search.slice(1).split("&")) {
    const eq = entry.indexOf("=");
    if (eq >= 0) {
      parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
    }
  }

  function updateURL(data) {
    Object.assign(parameters, data);
    const search = Object.keys(parameters)
      .filter((key) => Boolean(parameters[key]))
      .map((key) => encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]))
      .join("&");
    history.replaceState(null, "", "?" + search);
  }

  const fetchURL = new URL(window.location.href);
  fetchURL.search = "";
  fetchURL.hash = "";
  const subscriptionURL = new URL(fetchURL.href);
  subscriptionURL.protocol = fetchURL.protocol === "https:" ? "wss:" : "ws:";

  const graphiqlFetcher = GraphiQL.createFetcher({
    url: fetchURL.href,
    subscriptionUrl: subscriptionURL.href,
  });

  // The same test as GraphiQL's fetcher (isSubscriptionWithName), so that both agree on which
  // operations go over the WebSocket.
  function isSubscription(documentAST, operationName) {
    if (!documentAST) {
      return false;
    }
    return documentAST.definitions.some(
      (node) =>
        node.kind === "OperationDefinition" &&
        node.operation === "subscription" &&
        (node.name ? node.name.value : undefined) === (operationName || undefined),
    );
  }

  function accessToken(headers) {
    for (const [name, value] of Object.entries(headers || {})) {
      if (name.toLowerCase() === "authorization" && typeof value === "string") {
        return value.replace(/^\s*bearer\s+/i, "").trim();
      }
    }
    return "";
  }

  function fetcher(graphQLParams, options) {
    if (!isSubscription(options && options.documentAST, graphQLParams.operationName)) {
      return graphiqlFetcher(graphQLParams, options);
    }
    const token = accessToken(options.headers);
    if (!token) {
      return Promise.reject(
        new Error(
          'Subscriptions need a signed-in user: put {"Authorization": "Bearer <accessToken>"} ' +
            "in the Headers pane (the login mutation gives the token).",
        ),
      );
    }
    // GraphiQL's fetcher opens one WebSocket per subscription, with these as connectionParams.
    return graphiqlFetcher(graphQLParams, { ...options, headers: { accessToken: token } });
  }

  function GraphiQLWithExplorer() {
    const [query, setQuery] = React.useState(parameters.q || EXAMPLE_QUERY);
    const [variables, setVariables] = React.useState(parameters.variables);
    const [headers, setHeaders] = React.useState(parameters.headers);
    const explorerPlugin = React.useMemo(() => GraphiQLPluginExplorer.explorerPlugin(), []);

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      plugins: [explorerPlugin],
      query: query,
      variables: variables,
      headers: headers,
      onEditQuery(newQuery) {
        setQuery(newQuery);
        updateURL({ q: newQuery });
      },
      onEditVariables(newVariables) {
        setVariables(newVariables);
        updateURL({ variables: newVariables });
      },
      onEditHeaders: setHeaders,
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQLWithExplorer),
  );
})();
