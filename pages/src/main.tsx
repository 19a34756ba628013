import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

// Placeholder until the dashboard lands: shows that the stack is up and where the API lives.
function App() {
  const [health, setHealth] = useState<string>("checking…");
  useEffect(() => {
    fetch("/healthz")
      .then((r) => (r.ok ? "API up" : `API answered ${r.status}`))
      .catch(() => "API unreachable")
      .then(setHealth);
  }, []);
  return (
    <main style={{ fontFamily: "system-ui, sans-serif", maxWidth: "40rem", margin: "4rem auto" }}>
      <h1>Aforo</h1>
      <p>Revenue intelligence for usage-priced APIs and AI products.</p>
      <p>
        Status: <strong>{health}</strong>
      </p>
      <p>
        The operator dashboard is on its way. Meanwhile the API is documented at{" "}
        <a href="/openapi.json">/openapi.json</a>; the keys printed by <code>npm start</code> work
        with it.
      </p>
    </main>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
