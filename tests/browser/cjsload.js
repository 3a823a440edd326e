// cjsload.js stands in, in test pages, for the bundler an NHS page is built
// with: requirePackage(name) fetches a CommonJS package and its require()d
// modules from /node_modules (served by PageServer), runs each in a function
// scope of its own with require, module and exports, and returns its
// exports. signalr-no-jquery ships only CommonJS (build/signalR.js requires
// ./jQueryShim, which requires jquery-deferred and jquery-param).
"use strict";

const cjsSources = new Map();  // module URL → source text
const cjsResolved = new Map(); // "from|spec" → module URL
const cjsModules = new Map();  // module URL → module, once run

async function cjsResolve(spec, from) {
  let url;
  if (spec.startsWith("./") || spec.startsWith("../")) {
    url = new URL(spec, from).href;
  } else {
    const dir = new URL("/node_modules/" + spec + "/", location.href);
    const pkg = await (await fetch(new URL("package.json", dir))).json();
    url = new URL(pkg.main || "index.js", dir).href;
  }
  if (!url.endsWith(".js")) url += ".js";
  cjsResolved.set(from + "|" + spec, url);
  return url;
}

async function cjsFetchTree(url) {
  if (cjsSources.has(url)) return;
  cjsSources.set(url, "");
  const resp = await fetch(url);
  if (!resp.ok) throw new Error("fetch " + url + ": " + resp.status);
  const text = await resp.text();
  cjsSources.set(url, text);
  for (const m of text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    await cjsFetchTree(await cjsResolve(m[1], url));
  }
}

function cjsRun(url) {
  if (cjsModules.has(url)) return cjsModules.get(url).exports;
  const module = { exports: {} };
  cjsModules.set(url, module);
  const require = (spec) => cjsRun(cjsResolved.get(url + "|" + spec));
  new Function("require", "module", "exports", cjsSources.get(url) + "\n//# sourceURL=" + url)(require, module, module.exports);
  return module.exports;
}

async function requirePackage(name) {
  const url = await cjsResolve(name, location.href);
  await cjsFetchTree(url);
  return cjsRun(url);
}
