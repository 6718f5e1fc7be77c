"""The ISBN lookup the order form's script calls (bookshop/static/isbn.js): same origin, POST
(the ISBN stays out of URLs and logs), staff only. It answers book details, never customer
data, and the browser never calls openBD or NDL Search itself."""

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from customers import isbn
from privacy.staff.roles import counter_only


@never_cache
@counter_only
@require_POST
def isbn_lookup(request):
    try:
        isbn13 = isbn.normalize_isbn(request.POST.get("isbn", ""))
    except ValidationError as error:
        return JsonResponse({"found": False, "message": isbn.validation_message(error)}, status=400)
    found = isbn.lookup(isbn13)
    answer = {"found": found.book is not None, "state": found.state, "message": found.message}
    answer["isbn"] = isbn.formatted(isbn13)
    if found.book is not None:
        answer.update(
            title=found.book.title, author=found.book.author, publisher=found.book.publisher
        )
    return JsonResponse(answer)
