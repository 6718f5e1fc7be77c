// The order form's ISBN lookup (customers/isbn_views.py): a plain script from 'self', since
// the CSP allows no inline code. The button (or the Enter a barcode scanner sends after the
// digits) asks our own server, which asks openBD or NDL Search; the browser never calls them.
// Title, author and publisher are filled when empty or when the lookup filled them before.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-isbn-lookup]").forEach(function (box) {
    var input = box.querySelector("input");
    var button = box.querySelector(".isbn-button");
    var status = box.querySelector(".isbn-status");
    var form = box.closest("form");
    if (!input || !button || !form) return;
    var prefix = input.id.replace(/isbn$/, "");
    var targets = ["title", "author", "publisher"].map(function (name) {
      return document.getElementById(prefix + name);
    });
    var busy = false;
    button.hidden = false;

    function say(text) {
      status.textContent = text || "";
    }

    function lookUp() {
      if (busy || !input.value.trim()) return;
      busy = true;
      button.disabled = true;
      say(button.dataset.waiting || "…");
      var body = new FormData();
      body.append("isbn", input.value);
      body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      fetch(box.dataset.isbnLookup, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
      })
        .then(function (response) {
          return response.json();
        })
        .then(function (answer) {
          if (answer.found) {
            input.value = answer.isbn;
            targets.forEach(function (field) {
              if (!field) return;
              var name = field.id.slice(prefix.length);
              if (!field.value.trim() || field.dataset.filledByIsbn === "1") {
                field.value = answer[name] || "";
                field.dataset.filledByIsbn = "1";
              }
            });
          }
          say(answer.message);
        })
        .catch(function () {
          say(box.dataset.offline || "");
        })
        .finally(function () {
          busy = false;
          button.disabled = false;
        });
    }

    button.addEventListener("click", lookUp);
    input.addEventListener("keydown", function (event) {
      // A scanner types the digits then Enter: look the book up instead of saving the form.
      if (event.key === "Enter") {
        event.preventDefault();
        lookUp();
      }
    });
    targets.forEach(function (field) {
      if (field) {
        field.addEventListener("input", function () {
          field.dataset.filledByIsbn = "";
        });
      }
    });
  });
});
