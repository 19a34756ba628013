import { render } from "preact";
import { App } from "./app";
import "./styles.css";
import { SharedReportView, sharedToken } from "./views/shared-report";

const root = document.getElementById("app");
// A share link (/shared/<token>) is its own credential: it opens before, and without, the
// sign-in gate.
const token = sharedToken(location.pathname);
if (root) render(token ? <SharedReportView token={token} /> : <App />, root);
