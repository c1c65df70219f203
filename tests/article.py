"""What the reference article yields (domain.md, as of 2022-03-24, known now)."""

ARTICLE_BOARD = {
    "lloyd-austin~sergei-shoigu": "refused",
    "mark-milley~valery-gerasimov": "refused",
    "jake-sullivan~nikolai-patrushev": "open",
    "john-sullivan~ru-mfa": "open",
    "ru-mod~us-defense-attaches-moscow": "open",
    "ru-military~us-military": "standby",
    "emmanuel-macron~vladimir-putin": "open",
    "olaf-scholz~vladimir-putin": "open",
    "naftali-bennett~vladimir-putin": "open",
    "joe-biden~vladimir-putin": "no_contact",
}
