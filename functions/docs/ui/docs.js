// The docs page: Swagger UI on the contract this API serves, calling this API.
//
// The contract names `make dev` as its server; the page calls the API it was served by instead.
// Its paths start with /api and the page is /api/docs, so the API's base is the page's URL one
// level up (a stage name, if any, stays in it).
"use strict";

const base = new URL("..", window.location.href).href.replace(/\/$/, "");

fetch("openapi.json", { headers: { accept: "application/json" } })
  .then((response) => {
    if (!response.ok) {
      throw new Error(`GET openapi.json answered ${response.status}`);
    }
    return response.json();
  })
  .then((contract) => {
    window.ui = SwaggerUIBundle({
      spec: { ...contract, servers: [{ url: base, description: "this API" }] },
      dom_id: "#swagger-ui",
      deepLinking: true,
      // No request leaves for validator.swagger.io; the page talks to this API only.
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    });
  })
  .catch((error) => {
    const message = document.createElement("p");
    message.textContent = `The contract could not be loaded: ${error.message}`;
    document.getElementById("swagger-ui").replaceChildren(message);
  });
