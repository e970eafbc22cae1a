/** The login page's demo-user buttons fill in the form (they exist only under DEBUG). */
const form = document.getElementById("login-form");
for (const button of document.querySelectorAll(".demo-login")) {
  button.addEventListener("click", () => {
    form.elements.username.value = button.dataset.username;
    form.elements.password.value = button.dataset.password;
    form.querySelector("button[type=submit]").focus();
  });
}
